//! Logs as people paste them into bug reports: wrapped by a terminal, cut before the
//! traceback's first line, run through an editor that curls the quotes, wrapped in markdown.

use everybyte_core::Finding;
use everybyte_core::config::TriageOptions;
use everybyte_triage::triage_reader;

fn findings(text: &str) -> Vec<Finding> {
    triage_reader(text.as_bytes(), "pasted.log", &TriageOptions::default())
        .expect("in-memory reads do not fail")
        .findings
}

fn codes(text: &str) -> Vec<(String, u64)> {
    findings(text)
        .into_iter()
        .map(|f| (f.code.clone(), f.location.line.unwrap_or(0)))
        .collect()
}

#[test]
fn a_terminate_line_wrapped_before_the_type() {
    let f = findings(
        "terminate called after throwing an instance of \n'thrust::system::system_error'\n   what():  CUDA free failed: cudaErrorCudartUnloading: driver shutting down\nAborted (core dumped)\n",
    );
    let abort = f.iter().find(|f| f.code == "LOG022").expect("an abort");
    assert_eq!(abort.location.line, Some(1));
    assert!(
        abort.message.contains("thrust::system::system_error")
            && abort.message.contains("what(): CUDA free failed"),
        "{}",
        abort.message
    );
    // Wrapped with no type after it: still an abort, and the next line is not lost.
    let f = findings("terminate called after throwing an instance of\nsomething else entirely\n");
    assert_eq!(f.len(), 1, "{f:?}");
}

#[test]
fn a_traceback_pasted_from_its_first_frame_with_curly_quotes() {
    let f = findings(
        "File \u{201c}/env/lib/python3.11/site-packages/torch/nn/modules/loss.py\u{201d}, line 1175, in forward\nreturn F.cross_entropy(input, target, weight=self.weight,\n^^^^^^^^^^^^^^^^^^^^^^^^^^\nFile \u{201c}/env/lib/python3.11/site-packages/torch/nn/functional.py\u{201d}, line 3029, in cross_entropy\nreturn torch._C._nn.cross_entropy_loss(input, target)\nValueError: Expected input batch_size (882) to match target batch_size (768).\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "LOG015");
    assert_eq!(f[0].location.line, Some(6));
    assert!(
        f[0].message
            .contains("functional.py:3029, in cross_entropy"),
        "{}",
        f[0].message
    );
}

#[test]
fn a_stray_frame_does_not_hide_another_ranks_traceback() {
    let f = codes(
        "  File \"/usr/lib/python3.10/threading.py\", line 320 in wait\n[rank0]: Traceback (most recent call last):\n[rank0]:   File \"train.py\", line 9, in <module>\n[rank0]: RuntimeError: boom\n",
    );
    assert_eq!(f, vec![("LOG015".to_owned(), 4)]);
}

#[test]
fn an_oom_report_cut_before_its_kill_line_explains_nothing_after_it() {
    let mut text =
        "python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
            .to_owned();
    for i in 0..400 {
        text.push_str(&format!("step {i}\n"));
    }
    text.push_str("Traceback (most recent call last):\n  File \"t.py\", line 3, in <module>\nValueError: bad shape\n");
    let f = findings(&text);
    let exception = f.iter().find(|f| f.code == "LOG015").expect("LOG015");
    assert!(
        !exception.data.contains_key("explained_by_line"),
        "{exception:?}"
    );
}

#[test]
fn a_syntax_error_has_no_traceback_line() {
    let f = codes(
        "  File \"/work/train.py\", line 12\n    model = Net(\n               ^\nSyntaxError: '(' was never closed\n",
    );
    assert_eq!(f, vec![("LOG015".to_owned(), 4)]);
}

#[test]
fn a_frame_alone_does_not_make_the_next_word_an_exception() {
    // A stack printed by faulthandler or a logger, then ordinary output.
    let text = "  File \"/work/train.py\", line 12 in main\nEpoch: 3\nWarmup: done\nLoss: 0.31\n";
    assert!(codes(text).is_empty(), "{:?}", codes(text));
    // Twelve lines after the last frame, the traceback is given up.
    let after = |lines: usize| {
        let mut text = "  File \"/work/train.py\", line 12, in main\n".to_owned();
        for i in 0..lines {
            text.push_str(&format!("step {i}\n"));
        }
        text.push_str("RuntimeError: later, on its own\n");
        codes(&text)
    };
    assert_eq!(after(11), vec![("LOG015".to_owned(), 13)]);
    assert!(after(12).is_empty(), "{:?}", after(12));
    // A bare `Warning:` or `Error:` is not an exception's name.
    let text = "  File \"/work/train.py\", line 12, in main\nWarning: Permanently added 'node-2' to the list of known hosts.\n";
    assert!(codes(text).is_empty(), "{:?}", codes(text));
}

#[test]
fn markdown_around_an_oom_message() {
    let f = codes(
        "**RuntimeError: CUDA out of memory.** Tried to allocate 1.71 GiB (GPU 0; 31.72 GiB total capacity; 23.58 GiB already allocated; 1.58 GiB free; 29.08 GiB reserved in total by PyTorch)\n",
    );
    assert_eq!(f, vec![("LOG002".to_owned(), 1)]);
}

#[test]
fn an_oom_report_cut_before_its_kill_line() {
    let f = findings(
        "[Wed Sep 29 07:12:20 2021] python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n[Wed Sep 29 07:12:20 2021] Call Trace:\n[Wed Sep 29 07:12:20 2021]  mem_cgroup_out_of_memory+0xbb/0xd0\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "LOG005");
    assert_eq!(f[0].location.line, Some(1));
}

#[test]
fn a_sanitizer_segv_and_a_handler_of_its_own() {
    assert_eq!(
        codes(
            "AddressSanitizer:DEADLYSIGNAL\n==20477==ERROR: AddressSanitizer: SEGV on unknown address 0x000800000039 (pc 0x00018b8be8e0 bp 0x00016d3b68b0 sp 0x00016d3b68b0 T1)\n"
        ),
        vec![("LOG003".to_owned(), 2)]
    );
    assert_eq!(
        codes("Fatal Python error: pygame_parachute: (pygame parachute) Segmentation Fault\n"),
        vec![("LOG003".to_owned(), 1)]
    );
}

#[test]
fn nvidia_smi_that_cannot_reach_a_gpu() {
    assert_eq!(
        codes("Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error\n"),
        vec![("LOG028".to_owned(), 1)]
    );
}

#[test]
fn torchelastic_quotes_the_root_cause_traceback_indented() {
    let f = findings(
        "Root Cause (first observed failure):\n[0]:\n  time      : 2022-02-26_22:02:07\n  rank      : 3 (local_rank: 0)\n  exitcode  : 1 (pid: 181845)\n  traceback : Traceback (most recent call last):\n    File \"/env/lib/python3.8/site-packages/torch/distributed/elastic/multiprocessing/errors/__init__.py\", line 345, in wrapper\n      return f(*args, **kwargs)\n    File \"/work/pretrain_gpt.py\", line 241, in main\n      die\n  NameError: name 'die' is not defined\n  \n============================================================\n",
    );
    let e = f.iter().find(|f| f.code == "LOG015").expect("LOG015");
    assert_eq!(e.location.line, Some(11));
    assert!(
        e.message.contains("pretrain_gpt.py:241, in main"),
        "{}",
        e.message
    );
}

#[test]
fn other_tools_telling_the_same_failures() {
    // docker inspect: exit 137 with the OOM flag false is a SIGKILL, not the OOM killer.
    let f = codes(
        "    \"State\": {\n        \"OOMKilled\": false,\n        \"Dead\": false,\n        \"ExitCode\": 137,\n",
    );
    assert_eq!(f, vec![("LOG004".to_owned(), 4)]);
    assert_eq!(
        codes("        \"OOMKilled\": true,\n"),
        vec![("LOG005".to_owned(), 1)]
    );
    // Slurm's cgroup OOM killer.
    assert_eq!(
        codes(
            "slurmstepd: error: Detected 2 oom-kill event(s) in StepId=4242.0. Some of your processes may have been killed by the cgroup out-of-memory handler.\n"
        ),
        vec![("LOG005".to_owned(), 1)]
    );
    // systemd's view of a segfault.
    assert_eq!(
        codes(
            "Mar 02 10:00:00 node7 systemd[1]: trainer.service: Main process exited, code=dumped, status=11/SEGV\n"
        ),
        vec![("LOG003".to_owned(), 1)]
    );
    // A glibc version node without a number.
    assert_eq!(
        codes(
            "ImportError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_ABI_DT_RELR' not found (required by /env/lib/python3.10/site-packages/ext/_C.so)\n"
        ),
        vec![("LOG011".to_owned(), 1)]
    );
    // cuDNN 9 names every name it tried.
    let f = findings(
        "Unable to load any of {libcudnn_cnn.so.9.1.0, libcudnn_cnn.so.9.1, libcudnn_cnn.so.9, libcudnn_cnn.so}\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].message.contains("libcudnn_cnn.so.9.1.0") && f[0].message.contains("cuDNN 9"));
    // DeepSpeed cannot lower the scale any further.
    assert_eq!(
        codes(
            "[2024-03-01 10:00:00,000] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1\n"
        ),
        vec![("LOG024".to_owned(), 1)]
    );
}

#[test]
fn second_review_cases() {
    // A traceback flattened into one message line opens nothing.
    let f = codes(
        "ERROR retry.py: attempt 1 failed: Traceback (most recent call last):\\n  File \"a.py\", line 3, in f\\nConnectionError: reset\nEpoch: 1\n",
    );
    assert!(f.is_empty(), "{f:?}");
    // A floor above 1 still scales the gradients up.
    assert!(
        codes("[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 128, reducing to 128\n")
            .is_empty()
    );
    // Newer Slurm spells it with an underscore.
    assert_eq!(
        codes(
            "slurmstepd: error: Detected 4 oom_kill events in StepId=7.0. Some of your processes may have been killed by the cgroup out-of-memory handler.\n"
        ),
        vec![("LOG005".to_owned(), 1)]
    );
    // A shell's `Killed` long after a kernel report cut before its kill line is that kill.
    let mut text =
        "python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
            .to_owned();
    for i in 0..120 {
        text.push_str(&format!(
            "[{i:>7}]  1000  {i}  2000  1500  0  0  0 python3\n"
        ));
    }
    text.push_str("Killed\n");
    let f = findings(&text);
    let kill = f.iter().find(|f| f.code == "LOG004").expect("LOG004");
    assert!(kill.data.contains_key("explained_by_line"), "{kill:?}");
}

#[test]
fn other_allocators_schedulers_and_monitors() {
    // XLA and TensorFlow tell a device OOM in their own words.
    assert_eq!(
        codes(
            "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 4770354232 bytes.\n"
        ),
        vec![("LOG001".to_owned(), 1)]
    );
    let f = findings(
        "  (0) Resource exhausted: OOM when allocating tensor with shape[16,112,112,147] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "LOG001");
    assert!(f[0].message.contains("112.55 MiB"), "{}", f[0].message);
    // PyTorch's cudaMallocAsync backend, on one line and spread over several.
    assert_eq!(
        codes(
            "Allocation on device 0 would exceed allowed memory. (out of memory) Currently allocated : 1.62 GiB Requested : 25.00 MiB Device limit : 6.00 GiB Free (according to CUDA): 3.45 GiB\n"
        ),
        vec![("LOG019".to_owned(), 1)]
    );
    let f = findings(
        "Allocation on device 0 would exceed allowed memory. (out of memory)\nCurrently allocated     : 21.71 GiB\nRequested               : 4.00 GiB\nDevice limit            : 23.65 GiB\nFree (according to CUDA): 1.19 GiB\nPyTorch limit (set by user-supplied memory fraction)\n                        : 17179869184.00 GiB\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "LOG001");
    assert!(
        f[0].message
            .contains("4.00 GiB requested with 1.19 GiB free"),
        "{}",
        f[0].message
    );
    // NCCL's InfiniBand verbs call.
    let f = findings(
        "node3:3778851:3779883 [4] ibvwrap.c:130 NCCL WARN Call to ibv_create_qp failed\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].help
            .as_deref()
            .unwrap_or_default()
            .contains("ulimit -l")
    );
    // The scheduler before Kubernetes 1.10.
    let f = findings(
        "  2h\t48m\t7\tdefault-scheduler\tWarning\tFailedScheduling\tNo nodes are available that match all of the following predicates:: Insufficient cpu (9), Insufficient memory (15), MatchNodeSelector (18).\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "LOG025");
    assert!(f[0].message.contains("9 lack free cpu"), "{}", f[0].message);
    // Ray's memory monitor.
    assert_eq!(
        codes(
            "(raylet, ip=10.0.0.7) [2022-09-22 16:02:34,214 E 138 138] (raylet) node_manager.cc:2966: System memory low at node with IP 10.0.0.7. Used memory (54.90GB) / total capacity (57.60GB) (0.95307) exceeds threshold 0.95, killing latest task with name  and task ID NIL_ID to avoid running out of memory.\n"
        ),
        vec![("LOG005".to_owned(), 1)]
    );
}

#[test]
fn third_review_cases() {
    // The cudaMallocAsync message inside a traceback keeps its frame and reads the limit on
    // the line after its name.
    let f = findings(
        "Traceback (most recent call last):\n  File \"train.py\", line 10, in <module>\n    y = model(x)\ntorch.OutOfMemoryError: Allocation on device 0 would exceed allowed memory. (out of memory)\nCurrently allocated     : 10.00 GiB\nRequested               : 4.00 GiB\nDevice limit            : 23.65 GiB\nFree (according to CUDA): 12.19 GiB\nPyTorch limit (set by user-supplied memory fraction)\n                        : 12.00 GiB\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "LOG019");
    assert!(
        f[0].message
            .contains("over the process's own limit of 12.00 GiB")
            && f[0]
                .message
                .contains("(raised in train.py:10, in <module>)"),
        "{}",
        f[0].message
    );
    // TensorFlow running out of host memory is not a GPU OOM.
    let f = codes(
        "ResourceExhaustedError: OOM when allocating tensor with shape[100000,10000] and type float on /job:localhost/replica:0/task:0/device:CPU:0 by allocator cpu\n",
    );
    assert!(!f.iter().any(|(c, _)| c == "LOG001"), "{f:?}");
    // NCCL's verbs error after `with error`.
    let f = findings(
        "node1:1:2 [0] NCCL WARN Call to ibv_modify_qp failed with error Invalid argument errno 22\n",
    );
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].message.contains("Invalid argument"),
        "{}",
        f[0].message
    );
    assert!(f[0].help.as_deref().unwrap_or_default().contains("ibstat"));
}

#[test]
fn localized_shells_agents_and_prose_about_causes() {
    assert_eq!(
        codes("python:段错误（核心已转储）\n"),
        vec![("LOG003".to_owned(), 1)]
    );
    assert_eq!(
        codes("已放弃 (核心已转储)\n"),
        vec![("LOG022".to_owned(), 1)]
    );
    assert_eq!(
        codes("非法指令 (核心已转储)\n"),
        vec![("LOG021".to_owned(), 1)]
    );
    // A paste that lost the opening quote.
    assert_eq!(
        codes(
            "ImportError: /env/bin/../lib/libstdc++.so.6: version GLIBCXX_3.4.32' not found (required by /env/ext/_impl.so)\n"
        ),
        vec![("LOG011".to_owned(), 1)]
    );
    // A health agent's Xid.
    let f = codes("XID 79(GPU has fallen off the bus) detected on PCI:0000:ae:00\n");
    assert!(f.contains(&("LOG008".to_owned(), 1)), "{f:?}");
    // The old scheduler without `following`.
    assert_eq!(
        codes(
            "Message: No nodes are available that match all of the predicates: Insufficient cpu (19), PodToleratesNodeTaints (10).\n"
        ),
        vec![("LOG025".to_owned(), 1)]
    );
    // Ray lists what might have killed a worker: not a kill.
    let f = codes(
        "(raylet) Worker exit type: SYSTEM_ERROR Worker exit detail: Worker unexpectedly exits with a connection error code 2. End of file. There are some potential root causes. (1) The process is killed by SIGKILL by OOM killer due to high memory usage. (2) ray stop --force is called.\n",
    );
    assert!(f.is_empty(), "{f:?}");
}
