use std::path::PathBuf;

use blindspot::{Error, recipe};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check a recipe: every key known and well typed, every value sensible. Exit code 2 if not.
    Check {
        file: PathBuf,
        /// Override a key first, as `train --set` does.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Print a recipe with its bases merged in and every default filled in.
    Show {
        file: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
}

pub fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Check { file, sets } => {
            let r = recipe::load(&file, &sets)?;
            println!(
                "{}: ok ({}: {}, {} epochs of batch {}, {:?} lr {}, weight decay {}, device {})",
                file.display(),
                r.name,
                r.model.arch,
                r.train.epochs,
                r.train.batch_size,
                r.optimizer.kind,
                r.optimizer.learning_rate,
                r.train.weight_decay,
                r.device
            );
        }
        Command::Show { file, sets } => {
            let chain = recipe::base::chain(recipe::base::Source::file(&file)?)?;
            let r = recipe::from_chain(&chain, &sets)?;
            if chain.len() > 1 {
                let files: Vec<&str> = chain.iter().map(|s| s.origin.as_str()).collect();
                let bases = if files.len() > 2 { "its bases" } else { "its base" };
                println!("# {}, merged over {bases} {}", files[0], files[1..].join(", "));
            }
            print!("{}", recipe::to_toml(&r));
        }
    }
    Ok(())
}
