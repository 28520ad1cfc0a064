use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    // `econ-host ... | head` ends quietly when the reader goes away, as other
    // command-line tools do, instead of panicking on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal at start,
    // before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = econ_host::cli::Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colours only on a terminal, and never with NO_COLOR (no-color.org).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();

    if let Err(error) = econ_host::cmd::dispatch(cli) {
        let code = econ_host::error::exit_code(&error);
        // The message may hold a plugin's or a server's words: no raw
        // control characters reach the terminal.
        let message = format!("{error:#}");
        let message = econ_host::error::printable(&message);
        if code == econ_host::interrupt::EXIT_CODE {
            eprintln!("{message}");
        } else {
            eprintln!("error: {message}");
        }
        std::process::exit(code);
    }
}
