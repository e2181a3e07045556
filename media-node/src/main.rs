//! The media node: a str0m SFU with its own signaling WebSocket. Built in the calls issue;
//! until then this binary only says so, so `cargo xtask dev` can already list it.

fn main() {
    eprintln!("vitrine-media-node: not built yet (see the calls issue); nothing to run");
    std::process::exit(2);
}
