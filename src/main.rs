//! The `clipscope` command line: a thin layer over the library.

mod cli;

/// Large activation buffers are reused instead of mapped afresh for every layer (what that buys:
/// benches/alloc.sh, README "Benchmarks"; features `system-alloc` and `mimalloc` swap it out).
#[cfg(not(any(feature = "system-alloc", feature = "mimalloc")))]
#[global_allocator]
static ALLOCATOR: clipscope::alloc::Recycling = clipscope::alloc::Recycling::new();

/// mimalloc, to compare (feature `mimalloc`).
#[cfg(all(feature = "mimalloc", not(feature = "system-alloc")))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Like other Unix filters, end quietly when the reader of our output goes away
    // (`clipscope search … | head`) instead of failing on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let result = cli::run();
    // What clipscope decided on the user's behalf (a read-only cache's index put elsewhere).
    for n in clipscope::cachedir::take_notices() {
        eprintln!("clipscope: {}", clipscope::untrusted::lines(&n));
    }
    if let Err(e) = result {
        // Errors quote file names, class names and texts: shown escaped, never sent raw.
        eprintln!("clipscope: {}", clipscope::untrusted::lines(&chain(&e)));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, `outer: inner: …`, each cause said once: the library's
/// errors already end with their source's text (so that `to_string` is whole where no chain is
/// printed), and a cause whose text the line already holds is not repeated.
fn chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
