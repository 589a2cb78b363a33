/// Resident set size of this process in bytes.
pub fn rss_bytes() -> u64 {
    aiotel_memory_limiter::process_rss()
}

/// User plus system CPU time of this process, from `/proc/self/stat`.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name, which may contain spaces, start after the last ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the full line, 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
}
