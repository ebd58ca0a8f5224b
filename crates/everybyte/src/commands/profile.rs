//! `everybyte profile -- CMD`: exits with the workload's own status (0 when it was stopped by
//! the SIGTERM profile sent, 1 for any other signal). `profile --pid PID` exits 0 once it has
//! detached.

use std::io::{self, Write};

use everybyte_deploy::profile::{self, ProfileArgs as Options};

use super::prelude::*;

pub fn run(args: &ProfileArgs) -> Result<ExitCode> {
    let options = Options {
        command: &args.command,
        pid: args.pid,
        ready_url: args.ready_url.as_deref(),
        ready_log: args.ready_log.as_deref(),
        after_ready: args.after_ready,
        timeout: args.timeout.or(args.duration),
        interval: args.interval,
        syscalls: args.syscalls,
        syscall_counter: match args.syscall_counter {
            SyscallCounter::Auto => everybyte_deploy::syscalls::Method::Auto,
            SyscallCounter::Bpf => everybyte_deploy::syscalls::Method::Bpf,
            SyscallCounter::Ptrace => everybyte_deploy::syscalls::Method::Ptrace,
        },
    };
    let record = profile::run(&options.options()?)?;
    if let Some(path) = &args.output {
        profile::write_record(path, &record)?;
    }
    write!(io::stderr().lock(), "{}", options.summary(&record))?;
    Ok(ExitCode::from(profile::exit_code(&record)))
}
