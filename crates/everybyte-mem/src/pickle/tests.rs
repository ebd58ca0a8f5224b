//! Hand-written pickles, benign and hostile. Nothing is ever executed by the reader; these
//! tests pin the inert shape each one yields or the error it gives.

use super::*;

fn global(module: &str, name: &str) -> Value {
    Value::Global {
        module: module.to_string(),
        name: name.to_string(),
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.to_string())
}

fn err(bytes: &[u8]) -> PickleError {
    match read_pickle(bytes) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

/// SHORT_BINUNICODE of `text` (under 256 bytes).
fn su(text: &str) -> Vec<u8> {
    let mut out = vec![0x8c, u8::try_from(text.len()).unwrap()];
    out.extend_from_slice(text.as_bytes());
    out
}

#[test]
fn reads_protocol_4_containers_and_scalars() {
    // {'a': [1, 300, 70000, -1, True, None, 1.5], 'b': (b'xy', 'é'), 'c': {2}} with memo.
    let mut p = vec![0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, b'}', 0x94, b'('];
    p.extend(su("a"));
    p.push(0x94);
    p.extend_from_slice(&[b']', 0x94, b'(', b'K', 1, b'M', 0x2c, 0x01]);
    p.extend_from_slice(&[b'J', 0x70, 0x11, 0x01, 0x00]);
    p.extend_from_slice(&[b'J', 0xff, 0xff, 0xff, 0xff, 0x88, b'N']);
    p.extend_from_slice(&[b'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, b'e']);
    p.extend(su("b"));
    p.extend_from_slice(&[b'C', 2, b'x', b'y']);
    p.extend_from_slice(&[b'X', 2, 0, 0, 0, 0xc3, 0xa9, 0x86]);
    p.extend(su("c"));
    p.extend_from_slice(&[0x8f, b'(', b'K', 2, 0x90, b'u', b'.']);
    let v = read_pickle(&p).unwrap();
    assert_eq!(
        v.get("a").and_then(Value::as_list).unwrap(),
        &[
            Value::Int(1),
            Value::Int(300),
            Value::Int(70_000),
            Value::Int(-1),
            Value::Bool(true),
            Value::None,
            Value::Float(1.5)
        ]
    );
    let b = v.get("b").and_then(Value::as_list).unwrap();
    assert_eq!(b[0].as_bytes(), Some(&b"xy"[..]));
    assert_eq!(b[1].as_str(), Some("é"));
    assert_eq!(v.get("c"), Some(&Value::Set(vec![Value::Int(2)])));
    assert_eq!(v.get("missing"), None);
}

#[test]
fn memo_get_sees_a_list_filled_after_memoize() {
    // l = [7]; (l, l): EMPTY_LIST MEMOIZE K7 APPEND BINGET0 TUPLE2 STOP
    let p = [0x80, 4, b']', 0x94, b'K', 7, b'a', b'h', 0, 0x86, b'.'];
    let v = read_pickle(&p).unwrap();
    let l = Value::List(vec![Value::Int(7)]);
    assert_eq!(v, Value::Tuple(vec![l.clone(), l]));
}

#[test]
fn long1_and_long4_including_big_values() {
    // LONG1 of 2**63 (9 bytes) and -2**63-1, and LONG4 of 0.
    let mut p = vec![0x80, 2, b'('];
    p.extend_from_slice(&[0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0]);
    p.extend_from_slice(&[
        0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff,
    ]);
    p.extend_from_slice(&[0x8a, 2, 0xff, 0x00]);
    p.extend_from_slice(&[0x8b, 0, 0, 0, 0]);
    p.extend_from_slice(b"L-12L\nI00\nF2.5\n");
    p.extend_from_slice(b"l.");
    let v = read_pickle(&p).unwrap();
    assert_eq!(
        v,
        Value::List(vec![
            Value::BigInt("9223372036854775808".to_string()),
            Value::BigInt("-9223372036854775809".to_string()),
            Value::Int(255),
            Value::Int(0),
            Value::Int(-12),
            Value::Bool(false),
            Value::Float(2.5),
        ])
    );
}

#[test]
fn protocol_0_text_opcodes() {
    // (dp0\nS'k'\np1\nVv\\u00e9\np2\ns.
    let p = b"(dp0\nS'k\\n'\np1\nVv\\u00e9\np2\nsg1\n0.";
    let v = read_pickle(p).unwrap();
    assert_eq!(
        v,
        Value::Dict(vec![(Value::Bytes(b"k\n".to_vec()), s("vé"))])
    );
}

#[test]
fn os_system_via_global_and_reduce_stays_inert() {
    // The classic: cos\nsystem\n(S'rm -rf /'\ntR.
    let p = b"cos\nsystem\n(S'rm -rf /'\ntR.";
    let v = read_pickle(p).unwrap();
    assert_eq!(
        v,
        Value::Call {
            callable: Box::new(global("os", "system")),
            args: Box::new(Value::Tuple(vec![Value::Bytes(b"rm -rf /".to_vec())])),
        }
    );
    assert_eq!(v.kind(), "call");
    assert_eq!(v.get("segments"), None);
}

#[test]
fn subprocess_popen_via_stack_global_stays_inert() {
    let mut p = vec![0x80, 4];
    p.extend(su("subprocess"));
    p.push(0x94);
    p.extend(su("Popen"));
    p.extend_from_slice(&[0x94, 0x93, 0x94]);
    p.extend(su("touch /tmp/pwned"));
    p.extend_from_slice(&[0x85, b'R', 0x94, b'.']);
    let v = read_pickle(&p).unwrap();
    assert_eq!(
        v,
        Value::Call {
            callable: Box::new(global("subprocess", "Popen")),
            args: Box::new(Value::Tuple(vec![s("touch /tmp/pwned")])),
        }
    );
}

#[test]
fn builtins_eval_and_newobj_stay_inert() {
    let mut p = vec![0x80, 2];
    p.extend_from_slice(b"cbuiltins\neval\n");
    p.extend(su("__import__('os').system('id')"));
    p.extend_from_slice(&[0x85, b'R']);
    // NEWOBJ_EX of a class with args and kwargs, inside a list with the eval call.
    p.extend_from_slice(b"cevil\nKlass\n");
    p.extend_from_slice(&[b')', b'}', 0x92, 0x86, b'.']);
    let v = read_pickle(&p).unwrap();
    let items = v.as_list().unwrap();
    assert_eq!(
        items[0],
        Value::Call {
            callable: Box::new(global("builtins", "eval")),
            args: Box::new(Value::Tuple(vec![s("__import__('os').system('id')")])),
        }
    );
    assert_eq!(
        items[1],
        Value::Call {
            callable: Box::new(global("evil", "Klass")),
            args: Box::new(Value::Tuple(vec![
                Value::Tuple(vec![]),
                Value::Dict(vec![])
            ])),
        }
    );
}

#[test]
fn setstate_build_trick_stays_inert() {
    // An object whose BUILD state would call os.system through __setstate__.
    let mut p = vec![0x80, 2];
    p.extend_from_slice(b"c__main__\nVictim\n)\x81");
    p.extend_from_slice(b"}");
    p.extend(su("__setstate__"));
    p.extend_from_slice(b"cos\nsystem\ns");
    p.extend_from_slice(b"b.");
    let v = read_pickle(&p).unwrap();
    let Value::Build { obj, state } = v else {
        panic!("expected a build, got {v:?}")
    };
    assert_eq!(
        *obj,
        Value::Call {
            callable: Box::new(global("__main__", "Victim")),
            args: Box::new(Value::Tuple(vec![])),
        }
    );
    assert_eq!(state.get("__setstate__"), Some(&global("os", "system")));
}

#[test]
fn persistent_ids_and_extensions_are_inert() {
    let p = b"(Pstorage0\nK\x07Q\x82\x01\x83\x02\x01\x84\x04\x03\x02\x01l.";
    let v = read_pickle(p).unwrap();
    assert_eq!(
        v,
        Value::List(vec![
            Value::PersId(Box::new(s("storage0"))),
            Value::PersId(Box::new(Value::Int(7))),
            Value::Ext(1),
            Value::Ext(0x0102),
            Value::Ext(0x0102_0304),
        ])
    );
}

#[test]
fn hundred_thousand_nested_lists_are_refused() {
    // EMPTY_LIST x 100k, then APPEND x (100k - 1): a list nested 100k deep.
    let n = 100_000;
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b']', n));
    p.extend(std::iter::repeat_n(b'a', n - 1));
    p.push(b'.');
    let e = err(&p);
    assert!(matches!(e.kind, PickleErrorKind::TooDeep(1000)), "{e}");
    assert!(e.to_string().contains("nesting deeper than 1000"), "{e}");

    // MARK x 100k: refused when the marks pass the limit.
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b'(', n));
    let e = err(&p);
    assert_eq!(e.kind, PickleErrorKind::TooDeep(1000));
    assert_eq!(e.offset, 2 + 1000);
    assert_eq!(e.opcode, Some(b'('));
}

#[test]
fn self_referencing_list_is_refused_not_looped() {
    // l = []; l.append(l)
    let p = [0x80, 4, b']', 0x94, b'h', 0, b'a', b'.'];
    let e = err(&p);
    assert!(matches!(e.kind, PickleErrorKind::TooDeep(_)), "{e}");
}

#[test]
fn billion_laughs_through_the_memo_is_capped() {
    // x0 = 'a'*60000; x_{i+1} = [x_i]*10, ten levels: 10^10 copies once expanded.
    let mut p = vec![0x80, 4];
    p.extend_from_slice(&[b'X', 0x60, 0xea, 0, 0]);
    p.extend(std::iter::repeat_n(b'a', 60_000));
    p.push(0x94);
    for i in 0..10u8 {
        p.extend_from_slice(b"0(");
        p.extend(std::iter::repeat_n([b'h', i], 10).flatten());
        p.extend_from_slice(&[b'l', 0x94]);
    }
    p.push(b'.');
    // The default ceiling (2 GiB of text) would hold; a smaller one shows where it stops.
    let tight = Limits {
        max_output_bytes: 16 << 20,
        ..Limits::default()
    };
    let e = read_pickle_with(&p, tight).unwrap_err();
    assert_eq!(e.kind, PickleErrorKind::OutputTooLarge(16 << 20));
    assert_eq!(e.opcode, Some(b'.'));
    // With a small value cap the same bomb stops on the count of values.
    let tight = Limits {
        max_values: 1_000,
        ..Limits::default()
    };
    let e = read_pickle_with(&p, tight).unwrap_err();
    assert_eq!(e.kind, PickleErrorKind::TooManyValues(1_000));
}

#[test]
fn binunicode_declaring_4_gib_is_refused_before_allocating() {
    // BINUNICODE8 and BINUNICODE with lengths far beyond the input.
    let p = [0x80, 4, b'X', 0xff, 0xff, 0xff, 0xff, b'a', b'.'];
    let e = err(&p);
    assert_eq!(
        e.kind,
        PickleErrorKind::Truncated {
            needed: 0xffff_ffff,
            left: 2
        }
    );
    assert_eq!((e.offset, e.opcode), (2, Some(b'X')));
    assert!(
        e.to_string()
            .starts_with("pickle byte 2 (opcode BINUNICODE)"),
        "{e}"
    );

    let mut p = vec![0x80, 4, 0x8d];
    p.extend_from_slice(&u64::MAX.to_le_bytes());
    let e = err(&p);
    assert!(matches!(e.kind, PickleErrorKind::Truncated { .. }), "{e}");

    let mut p = vec![0x80, 4, 0x95];
    p.extend_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(err(&p).kind, PickleErrorKind::Truncated { .. }));

    // LONG4 with a huge length is refused by the integer limit.
    let p = [0x80, 4, 0x8b, 0xff, 0xff, 0xff, 0x7f, b'.'];
    assert!(matches!(err(&p).kind, PickleErrorKind::LongTooLong(_)));
}

#[test]
fn truncated_streams_give_errors() {
    let full = b"cos\nsystem\n(S'x'\ntR.";
    for cut in 0..full.len() {
        let e = err(&full[..cut]);
        assert!(e.offset <= cut, "{cut}: {e}");
    }
    let e = err(&[0x80, 4, b'J', 1, 2]);
    assert_eq!(e.kind, PickleErrorKind::Truncated { needed: 4, left: 2 });
    assert_eq!(err(&[0x80, 4, b'N']).kind, PickleErrorKind::NoStop);
}

#[test]
fn unknown_opcodes_and_malformed_streams_give_errors() {
    let e = err(&[0x80, 4, 0xff, b'.']);
    assert_eq!(e.kind, PickleErrorKind::UnknownOpcode(0xff));
    assert_eq!(
        e.to_string(),
        "pickle byte 2 (opcode UNKNOWN): unknown opcode 0xff"
    );
    assert_eq!(
        err(&[0x80, 6]).kind.to_string(),
        "protocol 6 is newer than 5"
    );
    assert_eq!(err(b"R.").kind, PickleErrorKind::StackUnderflow);
    assert_eq!(err(b"h\x05.").kind, PickleErrorKind::MissingMemo(5));
    assert_eq!(err(b"e.").kind, PickleErrorKind::NoMark);
    assert_eq!(err(b"NN.").kind, PickleErrorKind::StackNotSingle(2));
    assert_eq!(err(b"N.N").kind, PickleErrorKind::TrailingBytes(1));
    assert_eq!(
        err(b"NK\x01a.").kind,
        PickleErrorKind::WrongType("None", "a list")
    );
    assert_eq!(err(b"}K\x01u.").kind, PickleErrorKind::NoMark);
    assert!(matches!(
        err(b"}(K\x01u.").kind,
        PickleErrorKind::BadArgument(_)
    ));
    // A MARK is not a value: REDUCE cannot pop through it.
    assert_eq!(err(b"N(R.").kind, PickleErrorKind::StackUnderflow);
    // Invalid UTF-8 in SHORT_BINUNICODE.
    assert!(matches!(
        err(&[0x8c, 1, 0xff, b'.']).kind,
        PickleErrorKind::BadArgument(_)
    ));
    // STACK_GLOBAL of non-strings.
    assert!(matches!(
        err(b"K\x01K\x02\x93.").kind,
        PickleErrorKind::BadArgument(_)
    ));
}

#[test]
fn limits_are_enforced() {
    let tight = Limits {
        max_input: 4,
        ..Limits::default()
    };
    assert!(matches!(
        read_pickle_with(b"NNNNN", tight).unwrap_err().kind,
        PickleErrorKind::InputTooLarge { size: 5, limit: 4 }
    ));
    let tight = Limits {
        max_memo: 2,
        ..Limits::default()
    };
    let e = read_pickle_with(b"N\x94\x94\x94.", tight).unwrap_err();
    // MEMOIZE keys 0 and 1 fit; the third needs key 2.
    assert_eq!((e.offset, e.kind), (3, PickleErrorKind::TooManyMemo(2)));
    let tight = Limits {
        max_values: 3,
        ..Limits::default()
    };
    let e = read_pickle_with(b"(NNNNl.", tight).unwrap_err();
    assert_eq!(e.kind, PickleErrorKind::TooManyValues(3));
}

#[test]
fn protocol_5_buffers_and_pop_mark() {
    // [bytearray(b'ab'), <out-of-band>] with a POP_MARK'd junk group and a DUP/POP.
    let mut p = vec![0x80, 5, b'(', b'N', b'N', b'1', b'(', 0x96];
    p.extend_from_slice(&2u64.to_le_bytes());
    p.extend_from_slice(b"ab");
    p.extend_from_slice(&[0x97, 0x98, b'2', b'0', b'l', b'(', b'0', b'.']);
    // `(0` drops the empty mark, leaving the list.
    let v = read_pickle(&p).unwrap();
    assert_eq!(
        v,
        Value::List(vec![Value::Bytes(b"ab".to_vec()), Value::OutOfBandBuffer])
    );
}

#[test]
fn value_helpers() {
    let v = Value::Dict(vec![
        (s("n"), Value::Int(-3)),
        (s("t"), Value::Tuple(vec![Value::Bool(true)])),
        (Value::Int(1), s("int key")),
    ]);
    assert_eq!(v.get("n").and_then(Value::as_i64), Some(-3));
    assert_eq!(v.get("n").and_then(Value::as_u64), None);
    assert_eq!(v.get("t").and_then(Value::as_list).map(<[_]>::len), Some(1));
    assert_eq!(v.as_dict().map(<[_]>::len), Some(3));
    assert_eq!(Value::Int(2).as_f64(), Some(2.0));
    assert_eq!(Value::Bool(true).as_bool(), Some(true));
    assert!(Value::None.is_none());
    assert_eq!(s("x").get("x"), None);
}
