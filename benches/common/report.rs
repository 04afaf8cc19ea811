//! The one line per figure that `scripts/bench-all` collects into its table:
//! `RESULT<TAB>metric<TAB>value<TAB>unit<TAB>target`. Each benchmark still prints its own
//! readable report; these lines are the summary. Include with
//! `#[path = "common/report.rs"] mod report;`.
//!
//! Including it also sets the benchmark's allocator to the one the server runs with
//! (mimalloc, src/main.rs), so what a benchmark measures in process is what the server does.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Print one figure for the summary table. `target` is what the issue asks for, e.g.
/// ">= 50000" or "< 15", or "" when there is none.
#[allow(dead_code)]
pub fn result(metric: &str, value: f64, unit: &str, target: &str) {
    println!("RESULT\t{metric}\t{value:.2}\t{unit}\t{target}");
}

/// The number of CPU cores this process may use, for the report's header.
#[allow(dead_code)]
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// CPU time this thread has run so far, from /proc/thread-self/schedstat (Linux); None where
/// that cannot be read. On a busy machine the wall-clock figures include time spent waiting
/// for a core; this says how much of it the work itself took.
#[allow(dead_code)]
pub fn thread_cpu_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Clock ticks (1/100 s on Linux) of CPU time process `pid` has used, user plus system; 0
/// where /proc cannot be read.
#[allow(dead_code)]
pub fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
    let get = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}
