//! The `clipscope` command line: a thin layer over the library.

mod cli;

/// Large activation buffers are reused instead of mapped afresh for every layer.
#[global_allocator]
static ALLOCATOR: clipscope::alloc::Recycling = clipscope::alloc::Recycling::new();

fn main() {
    // Like other Unix filters, end quietly when the reader of our output goes away
    // (`clipscope search … | head`) instead of failing on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if let Err(e) = cli::run() {
        eprintln!("clipscope: {e:#}");
        std::process::exit(1);
    }
}
