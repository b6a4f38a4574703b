//! Your own burn training loop with blindspot inside it as plain functions (CleverHans' way): every
//! batch attacked by PGD on the current weights, burn's Adam stepping on the adversarial images,
//! then the test error and the attack ensemble's robust accuracy. No Trainer, no files written.
//! Run: cargo run --release --example own_loop [-- --quick]

#[allow(dead_code)]
#[path = "whole_model.rs"]
pub mod whole_model;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;

use blindspot::attack::{Goal, Norm, PgdConfig, RobustnessConfig, RobustnessReport, Surface, pgd_points, robustness};
use blindspot::data::{Dataset, DatasetName, DeviceImages, Split, shuffled_batches};
use blindspot::model::cross_entropy;
use blindspot::train::error_rate;
use blindspot::{DeviceChoice, Layered, Whole};
use whole_model::{Cnn, CnnConfig};

/// Trains the CNN of `whole_model` at L∞ ε = 0.1 and measures it: (test error, robustness).
/// `quick`: 2,000 training images, 2 epochs, 100 test images and a shorter ensemble.
pub fn run(quick: bool, device: DeviceChoice) -> Result<(f64, RobustnessReport), blindspot::Error> {
    let device = device.device()?;
    let mut splits = Dataset::load(DatasetName::Mnist, None)?.splits(Split::Full, 0);
    if quick {
        splits.train = splits.train.head(2000);
    }
    device.seed(1);
    let mut model = Whole::new(CnnConfig::new().init(&device.clone().autodiff()), Cnn::forward, [1, 28, 28])?;
    let mut optimizer = AdamConfig::new().init();
    let (train, epsilon) = (DeviceImages::new(&splits.train, &device), 0.1);
    for epoch in 1..=if quick { 2 } else { 5 } {
        for indices in shuffled_batches(train.len(), 64, epoch) {
            let batch = train.batch(&indices);
            // blindspot: 5 PGD steps on the current weights (an inference copy).
            let current = model.valid();
            let goal = Goal { labels: batch.labels.clone(), targets: None };
            let surface = Surface::new(&current, 0)?;
            let adversarial = pgd_points(&surface, batch.inputs, &goal, &PgdConfig::linf(epsilon, 5))?;
            // burn: the step on the adversarial images.
            let loss = cross_entropy(model.forward(adversarial.autodiff()), batch.labels.autodiff());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(1e-3, model, grads);
        }
    }
    let (trained, n) = (model.valid(), if quick { 100 } else { 1000 });
    let test_error = error_rate(&trained, &DeviceImages::new(&splits.test, &device));
    let mut ensemble = RobustnessConfig::standard(Norm::Linf, epsilon);
    if quick {
        (ensemble.iterations, ensemble.square_queries) = (20, 200);
    }
    Ok((test_error, robustness(&trained, &splits.test.head(n), &ensemble, &device, &mut |_| {})?))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let device = if args.iter().any(|a| a == "--cuda") { DeviceChoice::Cuda(0) } else { DeviceChoice::Cpu };
    match run(args.iter().any(|a| a == "--quick"), device) {
        Ok((error, r)) => {
            let (clean, robust) = (100.0 * r.clean_accuracy, 100.0 * r.robust_accuracy);
            println!("test error {:.2}%; L∞ ε = {}: robust {robust:.1}% (clean {clean:.1}%)", 100.0 * error, r.epsilon);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
