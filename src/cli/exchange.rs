use std::path::PathBuf;

use blindspot::recipe::exchange;
use blindspot::{DeviceChoice, Error};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// PyTorch weights of an nn.Sequential (see README for the naming).
    file: PathBuf,
    /// The paper architecture the weights belong to (blindspot models lists them).
    #[arg(long)]
    arch: String,
    /// The run name of the new checkpoint (default: the file's name).
    #[arg(long)]
    name: Option<String>,
    /// Parent folder of the run folder.
    #[arg(long, default_value = "checkpoints")]
    output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A run folder (checkpoints/<run>) or a checkpoint folder.
    checkpoint: PathBuf,
    /// Where to write the weights (.safetensors).
    file: PathBuf,
}

pub fn import(args: ImportArgs) -> Result<(), Error> {
    let name = args.name.unwrap_or_else(|| {
        args.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".into())
    });
    let device = DeviceChoice::Cpu.device()?;
    let run_dir = exchange::import(&args.file, &args.arch, &name, &args.output, &device)?;
    println!("{}: imported as {} ({})", args.file.display(), run_dir.display(), args.arch);
    Ok(())
}

pub fn export(args: ExportArgs) -> Result<(), Error> {
    let device = DeviceChoice::Cpu.device()?;
    exchange::export(&args.checkpoint, &args.file, &device)?;
    println!("{}: written from {}", args.file.display(), args.checkpoint.display());
    Ok(())
}
