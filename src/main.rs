//! The `tokenfob` executable; everything it does is [`tokenfob::main`].

fn main() -> std::process::ExitCode {
    tokenfob::main()
}
