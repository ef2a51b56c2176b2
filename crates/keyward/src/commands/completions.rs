//! `keyward completions bash|zsh|fish|…`

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::error::ExitStatus;

pub fn run(args: CompletionsArgs) -> ExitStatus {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "keyward", &mut script);
    crate::output::stdout(&String::from_utf8_lossy(&script));
    ExitStatus::Success
}
