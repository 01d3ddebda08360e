//! The `clipscope` command line: a thin layer over the library.

mod cli;

fn main() {
    if let Err(e) = cli::run() {
        eprintln!("clipscope: {e:#}");
        std::process::exit(1);
    }
}
