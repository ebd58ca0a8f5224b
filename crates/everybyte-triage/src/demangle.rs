//! A small demangler for the Itanium C++ ABI names that undefined-symbol errors print: nested
//! names, `std::` abbreviations, substitutions, template arguments, ABI tags, constructors and
//! destructors, cv-qualifiers, and the builtin, pointer and reference types. Anything beyond
//! that (function and array types, expressions, lambdas, local names) gives `None`, and the
//! caller shows the mangled name as it is. Output follows `c++filt`.
//!
//! Written here rather than taken from a crate: the names in these errors use a small part of
//! the grammar, and a hand-written subset with a depth limit cannot be made to recurse or
//! allocate without bound by a hostile log line.

/// Nesting deeper than this is not a name a log line needs shown.
const MAX_DEPTH: u32 = 64;
/// Substitution tables larger than this are not worth following.
const MAX_SUBS: usize = 4096;

/// Demangles `_Z…` (or the Mach-O `__Z…`); `None` when the name uses a part of the grammar
/// this subset does not cover.
pub fn demangle(mangled: &str) -> Option<String> {
    let body = mangled
        .strip_prefix("__Z")
        .or_else(|| mangled.strip_prefix("_Z"))?;
    let mut p = Parser {
        b: body.as_bytes(),
        i: 0,
        subs: Vec::new(),
        targs: Vec::new(),
        last_targs: Vec::new(),
        depth: 0,
    };
    let out = p.encoding()?;
    // Clone suffixes (`.cold`, `.isra.0`) are allowed; anything else is not understood.
    match p.peek() {
        None | Some(b'.') => Some(out),
        Some(_) => None,
    }
}

struct Name {
    text: String,
    /// Ends in template arguments (a function template's encoding then starts with its
    /// return type).
    template: bool,
    ctor_dtor: bool,
    /// ` const` and friends of a member function.
    cv: String,
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    subs: Vec<String>,
    targs: Vec<String>,
    last_targs: Vec<String>,
    depth: u32,
}

fn operator_name(code: &[u8]) -> Option<&'static str> {
    Some(match code {
        b"nw" => "operator new",
        b"na" => "operator new[]",
        b"dl" => "operator delete",
        b"da" => "operator delete[]",
        b"pl" => "operator+",
        b"mi" => "operator-",
        b"ml" => "operator*",
        b"dv" => "operator/",
        b"rm" => "operator%",
        b"an" => "operator&",
        b"or" => "operator|",
        b"eo" => "operator^",
        b"aS" => "operator=",
        b"pL" => "operator+=",
        b"mI" => "operator-=",
        b"mL" => "operator*=",
        b"dV" => "operator/=",
        b"ls" => "operator<<",
        b"rs" => "operator>>",
        b"eq" => "operator==",
        b"ne" => "operator!=",
        b"lt" => "operator<",
        b"gt" => "operator>",
        b"le" => "operator<=",
        b"ge" => "operator>=",
        b"nt" => "operator!",
        b"aa" => "operator&&",
        b"oo" => "operator||",
        b"pp" => "operator++",
        b"mm" => "operator--",
        b"cl" => "operator()",
        b"ix" => "operator[]",
        b"pt" => "operator->",
        b"co" => "operator~",
        _ => return None,
    })
}

fn builtin(c: u8) -> Option<&'static str> {
    Some(match c {
        b'v' => "void",
        b'w' => "wchar_t",
        b'b' => "bool",
        b'c' => "char",
        b'a' => "signed char",
        b'h' => "unsigned char",
        b's' => "short",
        b't' => "unsigned short",
        b'i' => "int",
        b'j' => "unsigned int",
        b'l' => "long",
        b'm' => "unsigned long",
        b'x' => "long long",
        b'y' => "unsigned long long",
        b'n' => "__int128",
        b'o' => "unsigned __int128",
        b'f' => "float",
        b'd' => "double",
        b'e' => "long double",
        b'g' => "__float128",
        b'z' => "...",
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn add_sub(&mut self, s: &str) -> Option<()> {
        (self.subs.len() < MAX_SUBS).then_some(())?;
        self.subs.push(s.to_owned());
        Some(())
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(self.b.get(start..self.i)?)
            .ok()?
            .parse()
            .ok()
    }

    fn source_name(&mut self) -> Option<String> {
        let n = self.number()?;
        let end = self.i.checked_add(n)?;
        let s = std::str::from_utf8(self.b.get(self.i..end)?).ok()?;
        self.i = end;
        Some(if s.starts_with("_GLOBAL__N") {
            "(anonymous namespace)".to_owned()
        } else {
            s.to_owned()
        })
    }

    /// `B <source-name>`, as many as there are.
    fn abi_tags(&mut self, s: &mut String) -> Option<()> {
        while self.peek() == Some(b'B') {
            self.i += 1;
            let tag = self.source_name()?;
            s.push_str(&format!("[abi:{tag}]"));
        }
        Some(())
    }

    fn encoding(&mut self) -> Option<String> {
        if self.peek() == Some(b'T') {
            let what = match self.peek_at(1)? {
                b'V' => "vtable for ",
                b'I' => "typeinfo for ",
                b'S' => "typeinfo name for ",
                _ => return None,
            };
            self.i += 2;
            return Some(format!("{what}{}", self.ty()?));
        }
        let name = self.name(false)?;
        if matches!(self.peek(), None | Some(b'.' | b'E')) {
            return Some(name.text);
        }
        // `T_` in the signature is the function template's first argument.
        self.targs = std::mem::take(&mut self.last_targs);
        let ret = if name.template && !name.ctor_dtor {
            Some(self.ty()?)
        } else {
            None
        };
        let mut params = Vec::new();
        while !matches!(self.peek(), None | Some(b'.' | b'E')) {
            params.push(self.ty()?);
        }
        if params.len() == 1 && params[0] == "void" {
            params.clear();
        }
        let ret = ret.map(|r| format!("{r} ")).unwrap_or_default();
        Some(format!(
            "{ret}{}({}){}",
            name.text,
            params.join(", "),
            name.cv
        ))
    }

    /// A name; `as_type`: a type's name, whose whole is substitutable.
    fn name(&mut self, as_type: bool) -> Option<Name> {
        self.enter()?;
        let r = self.name_inner(as_type);
        self.depth -= 1;
        r
    }

    fn name_inner(&mut self, as_type: bool) -> Option<Name> {
        match self.peek()? {
            b'N' => {
                self.i += 1;
                self.nested(as_type)
            }
            b'Z' => None,
            b'S' if self.peek_at(1) == Some(b't') => {
                self.i += 2;
                let mut text = format!("std::{}", self.unqualified()?);
                self.abi_tags(&mut text)?;
                self.maybe_template(text, as_type)
            }
            b'S' => {
                let text = self.substitution()?;
                if self.peek() == Some(b'I') {
                    self.i += 1;
                    let args = self.template_args()?;
                    let full = format!("{text}{args}");
                    if as_type {
                        self.add_sub(&full)?;
                    }
                    return Some(Name {
                        text: full,
                        template: true,
                        ctor_dtor: false,
                        cv: String::new(),
                    });
                }
                Some(Name {
                    text,
                    template: false,
                    ctor_dtor: false,
                    cv: String::new(),
                })
            }
            _ => {
                let mut text = self.unqualified()?;
                self.abi_tags(&mut text)?;
                self.maybe_template(text, as_type)
            }
        }
    }

    fn maybe_template(&mut self, text: String, as_type: bool) -> Option<Name> {
        if self.peek() == Some(b'I') {
            self.i += 1;
            self.add_sub(&text)?;
            let args = self.template_args()?;
            let full = format!("{text}{args}");
            if as_type {
                self.add_sub(&full)?;
            }
            Some(Name {
                text: full,
                template: true,
                ctor_dtor: false,
                cv: String::new(),
            })
        } else {
            if as_type {
                self.add_sub(&text)?;
            }
            Some(Name {
                text,
                template: false,
                ctor_dtor: false,
                cv: String::new(),
            })
        }
    }

    fn unqualified(&mut self) -> Option<String> {
        match self.peek()? {
            b'0'..=b'9' => self.source_name(),
            b'L' => {
                self.i += 1;
                self.source_name()
            }
            a @ b'a'..=b'z' => {
                let b = self.peek_at(1)?;
                if a == b'c' && b == b'v' {
                    self.i += 2;
                    return Some(format!("operator {}", self.ty()?));
                }
                let op = operator_name(&[a, b])?;
                self.i += 2;
                Some(op.to_owned())
            }
            _ => None,
        }
    }

    fn nested(&mut self, as_type: bool) -> Option<Name> {
        let mut cv = String::new();
        loop {
            match self.peek()? {
                b'r' => cv.push_str(" restrict"),
                b'V' => cv.push_str(" volatile"),
                b'K' => cv.push_str(" const"),
                b'R' => cv.push_str(" &"),
                b'O' => cv.push_str(" &&"),
                _ => break,
            }
            self.i += 1;
        }
        let mut prefix = String::new();
        let mut pending: Option<String> = None;
        let mut last = String::new();
        let mut template = false;
        let mut ctor_dtor = false;
        loop {
            let c = self.peek()?;
            if c == b'E' {
                self.i += 1;
                break;
            }
            if let Some(p) = pending.take() {
                self.add_sub(&p)?;
            }
            template = false;
            ctor_dtor = false;
            match c {
                b'S' if prefix.is_empty() && self.peek_at(1) == Some(b't') => {
                    self.i += 2;
                    "std".clone_into(&mut prefix);
                    continue;
                }
                b'S' if prefix.is_empty() => {
                    prefix = self.substitution()?;
                    prefix
                        .rsplit("::")
                        .next()
                        .unwrap_or(&prefix)
                        .clone_into(&mut last);
                    continue;
                }
                b'T' if prefix.is_empty() => {
                    prefix = self.template_param()?;
                    last.clone_from(&prefix);
                }
                b'I' if !prefix.is_empty() => {
                    self.i += 1;
                    let args = self.template_args()?;
                    prefix.push_str(&args);
                    template = true;
                }
                b'C' | b'D' if matches!(self.peek_at(1), Some(b'0'..=b'5')) => {
                    let tilde = if c == b'D' { "~" } else { "" };
                    self.i += 2;
                    let base = last.split('<').next().unwrap_or(&last).to_owned();
                    prefix = format!("{prefix}::{tilde}{base}");
                    self.abi_tags(&mut prefix)?;
                    ctor_dtor = true;
                }
                _ => {
                    let mut part = self.unqualified()?;
                    self.abi_tags(&mut part)?;
                    last.clone_from(&part);
                    prefix = if prefix.is_empty() {
                        part
                    } else {
                        format!("{prefix}::{part}")
                    };
                }
            }
            pending = Some(prefix.clone());
        }
        if as_type && let Some(p) = pending {
            self.add_sub(&p)?;
        }
        Some(Name {
            text: prefix,
            template,
            ctor_dtor,
            cv,
        })
    }

    fn seq_id(&mut self) -> Option<usize> {
        let mut n: usize = 0;
        let mut any = false;
        while let Some(c) = self.peek() {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'A'..=b'Z' => c - b'A' + 10,
                _ => break,
            };
            n = n.checked_mul(36)?.checked_add(usize::from(d))?;
            any = true;
            self.i += 1;
        }
        if !self.eat(b'_') {
            return None;
        }
        Some(if any { n.checked_add(1)? } else { 0 })
    }

    /// `S…`, after the caller saw the `S`.
    fn substitution(&mut self) -> Option<String> {
        self.i += 1;
        let abbrev = match self.peek()? {
            b'a' => Some("std::allocator"),
            b'b' => Some("std::basic_string"),
            b's' => Some("std::string"),
            b'i' => Some("std::istream"),
            b'o' => Some("std::ostream"),
            b'd' => Some("std::iostream"),
            _ => None,
        };
        if let Some(a) = abbrev {
            self.i += 1;
            return Some(a.to_owned());
        }
        let n = self.seq_id()?;
        self.subs.get(n).cloned()
    }

    fn template_param(&mut self) -> Option<String> {
        self.i += 1; // T
        let n = self.seq_id()?;
        Some(
            self.targs
                .get(n)
                .cloned()
                .unwrap_or_else(|| format!("T{n}")),
        )
    }

    /// After the `I`: arguments up to `E`, as `<…>`.
    fn template_args(&mut self) -> Option<String> {
        self.enter()?;
        let mut args = Vec::new();
        while !self.eat(b'E') {
            let Some(a) = self.template_arg() else {
                self.depth -= 1;
                return None;
            };
            args.push(a);
        }
        self.depth -= 1;
        let inner = args.join(", ");
        // The outermost list parsed last: a function template's own arguments.
        self.last_targs = args;
        Some(if inner.ends_with('>') {
            format!("<{inner} >")
        } else {
            format!("<{inner}>")
        })
    }

    fn template_arg(&mut self) -> Option<String> {
        match self.peek()? {
            b'L' => {
                self.i += 1;
                if self.peek() == Some(b'_') {
                    return None;
                }
                let ty = self.ty()?;
                let neg = self.eat(b'n');
                let n = self.number()?;
                if !self.eat(b'E') {
                    return None;
                }
                let sign = if neg { "-" } else { "" };
                Some(match ty.as_str() {
                    "bool" => if n == 0 { "false" } else { "true" }.to_owned(),
                    "int" => format!("{sign}{n}"),
                    "unsigned int" => format!("{n}u"),
                    "long" => format!("{sign}{n}l"),
                    "unsigned long" => format!("{n}ul"),
                    _ => format!("({ty}){sign}{n}"),
                })
            }
            b'J' => {
                self.i += 1;
                let mut pack = Vec::new();
                while !self.eat(b'E') {
                    pack.push(self.template_arg()?);
                }
                Some(pack.join(", "))
            }
            b'X' => None,
            _ => self.ty(),
        }
    }

    fn ty(&mut self) -> Option<String> {
        self.enter()?;
        let r = self.ty_inner();
        self.depth -= 1;
        r
    }

    fn ty_inner(&mut self) -> Option<String> {
        let c = self.peek()?;
        if let Some(b) = builtin(c) {
            self.i += 1;
            return Some(b.to_owned());
        }
        let wrap = |p: &mut Self, suffix: &str| -> Option<String> {
            p.i += 1;
            let inner = p.ty()?;
            let t = format!("{inner}{suffix}");
            p.add_sub(&t)?;
            Some(t)
        };
        match c {
            b'P' => wrap(self, "*"),
            b'R' => wrap(self, "&"),
            b'O' => wrap(self, "&&"),
            b'K' => wrap(self, " const"),
            b'V' => wrap(self, " volatile"),
            b'D' => {
                let t = match self.peek_at(1)? {
                    b'n' => "decltype(nullptr)",
                    b'a' => "auto",
                    b's' => "char16_t",
                    b'i' => "char32_t",
                    b'u' => "char8_t",
                    b'h' => "half",
                    b'p' => {
                        self.i += 2;
                        let t = self.ty()?;
                        return Some(format!("{t}..."));
                    }
                    _ => return None,
                };
                self.i += 2;
                Some(t.to_owned())
            }
            b'T' => {
                let t = self.template_param()?;
                self.add_sub(&t)?;
                if self.eat(b'I') {
                    let args = self.template_args()?;
                    let full = format!("{t}{args}");
                    self.add_sub(&full)?;
                    return Some(full);
                }
                Some(t)
            }
            b'u' => {
                self.i += 1;
                let t = self.source_name()?;
                self.add_sub(&t)?;
                Some(t)
            }
            b'N' | b'S' | b'0'..=b'9' => Some(self.name(true)?.text),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn names_from_extension_errors() {
        assert_eq!(
            demangle("_ZN3c105ErrorC2ENS_14SourceLocationENSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE")
                .as_deref(),
            Some("c10::Error::Error(c10::SourceLocation, std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >)")
        );
        assert_eq!(
            demangle("_ZN3c106detail14torchCheckFailEPKcS2_jRKSs").as_deref(),
            Some(
                "c10::detail::torchCheckFail(char const*, char const*, unsigned int, std::string const&)"
            )
        );
        assert_eq!(
            demangle("_ZNK2at10TensorBase8data_ptrIfEEPT_v").as_deref(),
            Some("float* at::TensorBase::data_ptr<float>() const")
        );
        assert_eq!(
            demangle("_ZN3c1010TensorImpl17set_autograd_metaESt10unique_ptrINS_21AutogradMetaInterfaceESt14default_deleteIS2_EE").as_deref(),
            Some("c10::TensorImpl::set_autograd_meta(std::unique_ptr<c10::AutogradMetaInterface, std::default_delete<c10::AutogradMetaInterface> >)")
        );
        assert_eq!(
            demangle("_ZN5torch3jit17parseSchemaOrNameERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEb").as_deref(),
            Some("torch::jit::parseSchemaOrName(std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&, bool)")
        );
        assert_eq!(
            demangle("_ZN2at4_ops5zeros4callEN3c108ArrayRefINS2_6SymIntEEENS2_8optionalINS2_10ScalarTypeEEE").as_deref(),
            Some("at::_ops::zeros::call(c10::ArrayRef<c10::SymInt>, c10::optional<c10::ScalarType>)")
        );
        assert_eq!(
            demangle("_ZN3foo3barB5cxx11Ev").as_deref(),
            Some("foo::bar[abi:cxx11]()")
        );
        assert_eq!(demangle("_Z3addii").as_deref(), Some("add(int, int)"));
        assert_eq!(demangle("_ZN1AD2Ev").as_deref(), Some("A::~A()"));
        assert_eq!(demangle("cudaLaunchKernel"), None);
    }

    #[test]
    fn bad_input_is_none_not_a_panic() {
        for s in [
            "_Z",
            "_ZN",
            "_ZN3c1",
            "_ZN99999999999999999999999a",
            "_ZS9999_",
            "_ZNS_E",
            "_ZT",
            "_ZI",
            "_ZIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII",
            "_ZPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP",
            "_Z3fooé",
        ] {
            let _ = demangle(s);
        }
    }
}
