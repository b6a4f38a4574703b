//! A plain burn CNN with no blindspot in it, wrapped as it is by `Whole`, trained through the
//! Trainer on fresh PGD examples with an input pool beside them, then measured by the attack ensemble
//! at L∞ ε = 0.1 on MNIST. Run: cargo run --release --example whole_model [-- --quick]

use std::path::Path;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use blindspot::attack::{Norm, RobustnessConfig, RobustnessReport, robustness};
use blindspot::data::{Dataset, DatasetName, Split};
use blindspot::pool::{PoolAttack, PoolConfig, Radius};
use blindspot::train::{FreshConfig, FreshMethod, OptimizerConfig, OptimizerKind, OutputConfig, TrainConfig};
use blindspot::{DeviceChoice, Error, Existing, RunSummary, Trainer, Whole};

/// Two 3×3 convolutions, each followed by ReLU and 2×2 max-pooling, then two dense layers.
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    hidden: Linear,
    output: Linear,
}

#[derive(Config, Debug)]
pub struct CnnConfig {
    #[config(default = 10)]
    pub classes: usize,
}

impl CnnConfig {
    pub fn init(&self, device: &Device) -> Cnn {
        Cnn {
            conv1: Conv2dConfig::new([1, 16], [3, 3]).init(device),
            conv2: Conv2dConfig::new([16, 32], [3, 3]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            hidden: LinearConfig::new(32 * 5 * 5, 100).init(device),
            output: LinearConfig::new(100, self.classes).init(device),
        }
    }
}

impl Cnn {
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(images))); // 26×26 → 13×13
        let x = self.pool.forward(relu(self.conv2.forward(x))); // 11×11 → 5×5
        self.output.forward(relu(self.hidden.forward(x.flatten(1, 3))))
    }
}

/// Trains into `output/whole-model` (made again each time), then measures the first test images;
/// `quick`: 2,000 training images, 2 epochs, 100 test images and a shorter ensemble.
pub fn run(quick: bool, device: DeviceChoice, output: &Path) -> Result<(RunSummary, RobustnessReport), Error> {
    let device = device.device()?;
    let mut splits = Dataset::load(DatasetName::Mnist, None)?.splits(Split::Full, 0);
    if quick {
        (splits.train, splits.test) = (splits.train.head(2000), splits.test.head(1000));
    }
    device.seed(1);
    let model = Whole::new(CnnConfig::new().init(&device.clone().autodiff()), Cnn::forward, [1, 28, 28])?;
    let (epsilon, epochs) = (0.1, if quick { 2 } else { 8 });
    let fresh = FreshConfig { steps: Some(5), ramp_epochs: 1.0, ..FreshConfig::new(FreshMethod::Pgd, epsilon) };
    let attack = PoolAttack::Pgd { epsilon: Radius::Every(epsilon), steps: 5 };
    let pools = PoolConfig { attack, ratio: 0.25, ..PoolConfig::new(vec![0]) };
    let adam = OptimizerConfig::new(OptimizerKind::Adam, 1e-3);
    let trained = Trainer::new(model, splits.clone(), TrainConfig::new(epochs, 64), adam)
        .name("whole-model")
        .output(OutputConfig { dir: output.to_path_buf(), ..OutputConfig::default() })
        .existing(Existing::Overwrite)
        .fresh(fresh)
        .pools(pools)
        .run()?;
    let mut ensemble = RobustnessConfig::standard(Norm::Linf, epsilon);
    if quick {
        (ensemble.iterations, ensemble.square_queries) = (20, 200);
    }
    let test = splits.test.head(if quick { 100 } else { 1000 });
    let robustness = robustness(&trained.model.valid(), &test, &ensemble, &device, &mut |_| {})?;
    Ok((trained.summary, robustness))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let device = if args.iter().any(|a| a == "--cuda") { DeviceChoice::Cuda(0) } else { DeviceChoice::Cpu };
    match run(args.iter().any(|a| a == "--quick"), device, "checkpoints".as_ref()) {
        Ok((s, r)) => {
            let (clean, robust) = (100.0 * r.clean_accuracy, 100.0 * r.robust_accuracy);
            println!("{}: test error {:.2}% after {} epochs", s.run, 100.0 * s.test_error, s.epochs);
            println!("L∞ ε = {}: clean {clean:.1}%, robust {robust:.1}% of {} test images", r.epsilon, r.examples);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
