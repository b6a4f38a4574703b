//! How an error reaches a user: one line on stderr naming the flag or key it speaks of, and the
//! exit code (2 for bad usage or recipes, 128 + the signal for a stopped run, 1 otherwise).

use blindspot::Error;

/// A usage error of clap's as one line: its message and hints (possible values, a tip), without
/// the usage block and the pointer to `--help`.
pub(super) fn one_line(text: &str) -> String {
    let mut line = String::new();
    for part in text.lines().map(str::trim) {
        if part.is_empty() || part.starts_with("Usage:") || part.starts_with("For more information") {
            continue;
        }
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    line
}

/// The one line a user sees: the library's message, naming the flag whose value it speaks of.
pub(super) fn message(e: &Error) -> String {
    use blindspot::attack::robustness;
    use blindspot::config::Invalid;
    use blindspot::experiments::{attack as attacks, units};
    use blindspot::model::layered;
    use blindspot::{attack, certify, recipe};
    match e {
        Error::AttackRun(attacks::Error::TooMany { n, available, set }) => {
            format!("--n {n}: the {set} set has only {available} correctly classified images")
        }
        Error::AttackRun(attacks::Error::Zero) => "--n must be at least 1".into(),
        // `attack --layer` and `lipschitz --layer`.
        Error::AttackRun(attacks::Error::Attack(attack::Error::Model(e @ layered::Error::Layer { .. })))
        | Error::Bounds(blindspot::bounds::Error::Model(e @ layered::Error::Layer { .. })) => format!("--{e}"),
        // `attack --method noise` takes its standard deviation as --epsilon.
        Error::AttackRun(attacks::Error::Attack(attack::Error::Config(Invalid { field, message }))) => {
            format!("--{} {message}", if *field == "stddev" { "epsilon".into() } else { field.replace('_', "-") })
        }
        Error::Units(units::Error::Layer(layered::Error::Layer { layer, first, last })) => {
            format!("--layer {layer}: units are the outputs of hidden layers {first} to {last}")
        }
        Error::Units(units::Error::Top { top, available }) => {
            format!("--top {top} is larger than the {available} test images")
        }
        Error::Robustness(robustness::Error::Config(Invalid { field, message })) => {
            let flag = match *field {
                "batch" => "attack-batch".to_string(),
                "seed" => "attack-seed".to_string(),
                field => field.replace('_', "-"),
            };
            format!("--{flag} {message}")
        }
        Error::Robustness(robustness::Error::NoImages) => "--n must be at least 1".into(),
        Error::Robustness(robustness::Error::TooMany { asked, available }) => {
            format!("--n {asked} is more than the {available} test images")
        }
        Error::Certify(certify::Error::Config(Invalid { field, message })) => format!("--{field} {message}"),
        Error::Certify(certify::Error::NoImages) => "--n must be at least 1".into(),
        Error::Certify(certify::Error::TooMany { asked, available }) => {
            format!("--n {asked} is more than the {available} test images")
        }
        Error::Recipe(recipe::Error::Set { assignment, message }) => format!("--set {assignment}: {message}"),
        Error::UnknownArch { name } => {
            format!("--arch {name}: unknown architecture, expected one of {}", blindspot::model::zoo::names())
        }
        e => e.to_string(),
    }
}

/// The exit code: 2 for a usage error (a bad flag or recipe), 128 + the signal for a run stopped
/// by SIGINT or SIGTERM (130, 143), 1 for a failure.
pub(super) fn exit_code(e: &Error) -> u8 {
    use blindspot::attack::{self, robustness};
    use blindspot::experiments::attack as attacks;
    use blindspot::train::trainer::Error as Train;
    use blindspot::{certify, sweep};
    match e {
        Error::Usage(_) | Error::Recipe(_) | Error::UnknownArch { .. } => 2,
        Error::Robustness(
            robustness::Error::Config(_) | robustness::Error::NoImages | robustness::Error::TooMany { .. },
        ) => 2,
        Error::AttackRun(attacks::Error::Attack(attack::Error::Config(_))) => 2,
        Error::Certify(certify::Error::Config(_) | certify::Error::NoImages | certify::Error::TooMany { .. }) => 2,
        Error::Train(Train::RunExists { .. } | Train::CertifiedOnDevices | Train::FirstDevice { .. }) => 2,
        Error::Sweep(sweep::Error::NoRecipes | sweep::Error::NoSeeds | sweep::Error::NoTask { .. }) => 2,
        Error::Sweep(sweep::Error::Manifest { .. }) => 2,
        Error::Train(Train::Interrupted { signal, .. })
        | Error::Sweep(sweep::Error::Interrupted { signal, .. } | sweep::Error::Stopped { signal }) => {
            u8::try_from(128 + signal).unwrap_or(1)
        }
        _ => 1,
    }
}
