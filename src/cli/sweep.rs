use std::path::PathBuf;

use blindspot::Error;
use blindspot::recipe::runs::Progress;
use blindspot::sweep::{self, Collected, SlurmOptions, Sweep, TaskState, slurm};

use super::reproduce::Terminal;
use super::shared::print_json;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true, after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    runs: super::shared::SweepArgs,
    /// The sweep's folder: its manifest (sweep.json), the runs' recipes, logs and run folders.
    #[arg(long, default_value = "checkpoints/sweep")]
    output: PathBuf,
    /// Write a Slurm job-array script (sweep.sbatch) whose task i trains and measures run i,
    /// instead of running the tasks here.
    #[arg(long)]
    slurm: bool,
    /// Slurm: the partition.
    #[arg(long, requires = "slurm")]
    partition: Option<String>,
    /// Slurm: each task's time limit (e.g. 30, 2:00:00, 1-0).
    #[arg(long, requires = "slurm")]
    time: Option<String>,
    /// Slurm: GPUs per task (with --device cuda).
    #[arg(long, requires = "slurm", value_parser = clap::value_parser!(u32).range(1..))]
    gpus_per_task: Option<u32>,
    /// Slurm: CPU cores per task (LibTorch's CPU threads follow them).
    #[arg(long, requires = "slurm", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    cpus_per_task: u32,
    /// Slurm: submit the script with sbatch.
    #[arg(long, requires = "slurm")]
    submit: bool,
    /// Slurm: wait until every task has ended, then print the collected figures.
    #[arg(long, requires = "submit")]
    wait: bool,
    /// Here: run N tasks at once, LibTorch's CPU threads divided between them.
    #[arg(long, conflicts_with = "slurm", default_value_t = 1)]
    jobs: usize,
    /// Print the collected figures as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run task INDEX of a sweep: train its run (resuming a killed one) and measure it; what each
    /// task of the Slurm array runs.
    Task {
        /// The sweep's manifest (or its folder).
        manifest: PathBuf,
        /// The task, from 0.
        #[arg(long)]
        index: usize,
    },
    /// Gather a sweep's figures from its runs' folders (nothing is measured); unfinished and failed
    /// tasks are listed with their logs.
    Collect {
        /// The sweep's folder (or its manifest).
        sweep: PathBuf,
        /// Print JSON instead of the Markdown table.
        #[arg(long)]
        json: bool,
    },
}

const EXAMPLES: &str = "Examples:
  blindspot sweep recipes/convnet.toml recipes/convnet-linf-0.3-fresh.toml --seeds 3 --output sweeps/a --slurm --partition gpu --gpus-per-task 1 --device cuda --time 2:00:00
  sbatch sweeps/a/sweep.sbatch
  blindspot sweep collect sweeps/a
  blindspot sweep recipes/fc100-100-10-weight-decay.toml --seeds 2 --output sweeps/b --slurm --submit --wait
  blindspot sweep recipes/fc100-100-10-weight-decay.toml --seeds 2 --output sweeps/c --jobs 2";

pub fn run(args: Args) -> Result<(), Error> {
    match args.command {
        Some(Command::Task { manifest, index }) => {
            let sweep = Sweep::read(&manifest)?;
            sweep::task::run(&sweep, index, &mut Terminal::new())?;
            Ok(())
        }
        Some(Command::Collect { sweep, json }) => show(&sweep::collect(&Sweep::read(&sweep)?), json),
        None => plan(args),
    }
}

fn plan(args: Args) -> Result<(), Error> {
    let r = &args.runs;
    let output = std::path::absolute(&args.output)
        .map_err(|e| Error::Io { path: args.output.display().to_string(), reason: e.to_string() })?;
    let sweep = Sweep::plan(&r.recipes, r.seeds, &r.sets, &output, r.device, r.measures())
        .map_err(super::shared::sweep_flags)?;
    let manifest = sweep.write()?;
    let mut terminal = Terminal::new();
    if !args.slurm {
        let program = super::shared::this_program()?;
        let collected =
            sweep::local::run_sweep(&sweep, args.jobs, &program, &mut terminal).map_err(super::shared::sweep_flags)?;
        terminal.message("");
        return show(&collected, args.json);
    }
    let options = SlurmOptions {
        partition: args.partition,
        time: args.time,
        gpus_per_task: args.gpus_per_task,
        cpus_per_task: args.cpus_per_task,
    };
    let program = super::shared::this_program()?;
    let workdir = std::env::current_dir().map_err(|e| Error::Usage(format!("cannot read the working folder: {e}")))?;
    let script = slurm::write(&sweep, &slurm::script(&sweep, &manifest, &program, &workdir, &options))?;
    if !args.submit {
        eprintln!(
            "wrote {} ({} tasks); submit it with: sbatch {}",
            script.display(),
            sweep.runs.len(),
            script.display()
        );
        eprintln!("then gather the figures with: blindspot sweep collect {}", sweep.output.display());
        return Ok(());
    }
    let job = slurm::submit(&script, args.wait)?;
    eprintln!(
        "submitted job array {job} ({} tasks; logs in {})",
        sweep.runs.len(),
        sweep.output.join("logs").display()
    );
    if !args.wait {
        eprintln!("gather the figures with: blindspot sweep collect {}", sweep.output.display());
        return Ok(());
    }
    show(&sweep::collect(&sweep), args.json)
}

/// The collected figures (Markdown or JSON) on stdout, the unfinished tasks on stderr; failed tasks
/// make the command fail.
fn show(collected: &Collected, json: bool) -> Result<(), Error> {
    if json {
        print_json(collected)?;
    } else {
        print!("{}", collected.comparison.table().markdown());
    }
    // The failed ones make the error line.
    for task in collected.unfinished.iter().filter(|u| !matches!(u.state, TaskState::Failed { .. })) {
        eprintln!("{task}");
    }
    match collected.failures() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
