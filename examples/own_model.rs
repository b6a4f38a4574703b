//! Your own burn model through blindspot: a small CNN with a residual block (not in the zoo),
//! trained on Fashion-MNIST (MNIST where it is not installed) with an input pool and a hidden-layer
//! pool, the Lipschitz penalty and a hook of its own, then attacked with L-BFGS and bounded.
//! Run: cargo run --release --example own_model [-- --quick] [--device cuda]

use std::sync::{Arc, Mutex};

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use blindspot::attack::{self, AttackSummary, LbfgsAttackConfig, Surface, TargetKind};
use blindspot::bounds::{Lanczos, NetworkBounds, PenaltyConfig, network_bounds};
use blindspot::data::{Dataset, DatasetName, DeviceImages, Split};
use blindspot::model::{AffineMap, Layered};
use blindspot::pool::{PoolAttack, PoolConfig, Radius};
use blindspot::train::{Hook, HookError, OptimizerConfig, OptimizerKind, OutputConfig, RunInfo, StepInfo, TrainConfig};
use blindspot::{DeviceChoice, Existing, RunSummary, Trainer};

/// Layer 1: a stride-2 convolution; layer 2: a residual block `relu(h + conv(relu(conv(h))))`;
/// layer 3: the logits.
#[derive(Module, Debug)]
pub struct ResidualNet {
    stem: Conv2d,
    inner: Conv2d,
    outer: Conv2d,
    head: Linear,
    /// The input's and the residual block's `[channels, height, width]`.
    #[module(skip)]
    shapes: [[usize; 3]; 2],
}

#[derive(Config, Debug)]
pub struct ResidualNetConfig {
    /// The images' `[channels, height, width]`.
    pub image: [usize; 3],
    pub classes: usize,
}

impl ResidualNetConfig {
    pub fn init(&self, device: &Device) -> ResidualNet {
        let ([c, h, w], n) = (self.image, 16);
        let conv = |from, stride| {
            Conv2dConfig::new([from, n], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let block = [n, h.div_ceil(2), w.div_ceil(2)];
        ResidualNet {
            stem: conv(c, 2),
            inner: conv(n, 1),
            outer: conv(n, 1),
            head: LinearConfig::new(block.iter().product(), self.classes).init(device),
            shapes: [self.image, block],
        }
    }
}

impl Layered for ResidualNet {
    fn depth(&self) -> usize {
        3
    }

    fn layer(&self, k: usize, h: Tensor<2>) -> Tensor<2> {
        let [batch, _] = h.dims();
        let [[c, h0, w0], [n, a, b]] = self.shapes;
        match k {
            1 => relu(self.stem.forward(h.reshape([batch, c, h0, w0]))).flatten(1, 3),
            2 => {
                let x = h.reshape([batch, n, a, b]);
                relu(x.clone() + self.outer.forward(relu(self.inner.forward(x)))).flatten(1, 3)
            }
            _ => self.head.forward(h),
        }
    }

    /// Pixels in [0, 1], ReLU outputs non-negative, logits unbounded.
    fn activation_box(&self, k: usize) -> (f32, f32) {
        [(0.0, 1.0), (0.0, f32::INFINITY), (0.0, f32::INFINITY)]
            .get(k)
            .copied()
            .unwrap_or((f32::NEG_INFINITY, f32::INFINITY))
    }

    fn classes(&self) -> usize {
        self.head.weight.dims()[1]
    }

    fn affine_maps(&self) -> Option<Vec<AffineMap>> {
        let [image, block] = self.shapes;
        let conv = |layer, conv: &Conv2d, input| AffineMap::conv(layer, conv, input, 1.0).ok();
        Some(vec![
            conv(1, &self.stem, image)?,
            conv(2, &self.inner, block)?,
            conv(2, &self.outer, block)?,
            AffineMap::dense(3, &self.head, 1.0),
        ])
    }

    /// The residual block is `x + g(x)`: it bounds as `1 + L(g)`, not as a product.
    fn network_bound(&self, _maps: &[AffineMap], b: &[f64]) -> f64 {
        b[0] * (1.0 + b[1] * b[2]) * b[3]
    }
}

/// A hook of our own: records the loss of every epoch's last step.
pub struct LastLoss(pub Arc<Mutex<Vec<f32>>>);

impl Hook<ResidualNet> for LastLoss {
    fn name(&self) -> &str {
        "last loss"
    }

    fn on_step_end(&mut self, run: &RunInfo, step: &StepInfo, _model: &ResidualNet) -> Result<(), HookError> {
        if step.batch + 1 == run.steps_per_epoch {
            self.0.lock().unwrap().push(step.loss.clone().into_scalar::<f32>());
        }
        Ok(())
    }
}

pub struct Report {
    pub summary: RunSummary,
    pub last_losses: Vec<f32>,
    pub attack: AttackSummary,
    pub bounds: NetworkBounds,
}

/// Trains, attacks and bounds the model; `quick` trains 2 epochs on 2,000 images.
pub fn run(quick: bool, device: DeviceChoice, output: &std::path::Path) -> Result<Report, Box<dyn std::error::Error>> {
    let device = device.device()?;
    let dataset =
        Dataset::load(DatasetName::FashionMnist, None).or_else(|_| Dataset::load(DatasetName::Mnist, None))?;
    let mut splits = dataset.splits(Split::Full, 0);
    if quick {
        (splits.train, splits.test) = (splits.train.head(2000), splits.test.head(500));
    }
    device.seed(1);
    let model = ResidualNetConfig::new(splits.train.shape, splits.train.classes).init(&device.clone().autodiff());
    let pools = PoolConfig {
        attack: PoolAttack::Pgd { epsilon: Radius::PerPool(vec![0.1, 0.3]), steps: 5 },
        pool_size: 1000,
        ratio: 0.3,
        snapshot_every: 20,
        ..PoolConfig::new(vec![0, 1])
    };
    let losses = Arc::new(Mutex::new(Vec::new()));
    let (epochs, adam) = (if quick { 2 } else { 10 }, OptimizerConfig::new(OptimizerKind::Adam, 2e-3));
    let done = Trainer::new(model, splits.clone(), TrainConfig::new(epochs, 64), adam)
        .name("own-model")
        .existing(Existing::Overwrite)
        .describe("residual-net", dataset.name.to_string())
        .output(OutputConfig { dir: output.to_path_buf(), ..OutputConfig::default() })
        .pools(pools)
        .penalty(PenaltyConfig::new(1e-4))
        .hook(Box::new(LastLoss(losses.clone())))
        .run()?;
    let trained = done.model.valid();
    // The paper's minimal L-BFGS perturbations of 20 test images, towards random wrong labels.
    let batch = DeviceImages::new(&splits.test.head(20), &device).all();
    let surface = Surface::new(&trained, 0)?;
    let goal = TargetKind::Random.goal(&batch.labels, trained.forward(batch.inputs.clone()), 1)?;
    let (started, config) = (std::time::Instant::now(), LbfgsAttackConfig::default());
    let attack =
        AttackSummary::of(&[&attack::lbfgs(&surface, batch.inputs, &goal, &config)?], started.elapsed().as_secs_f64());
    let bounds = network_bounds(&trained, &[], &Lanczos::default())?;
    Ok(Report { summary: done.summary, last_losses: losses.lock().unwrap().clone(), attack, bounds })
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let device = args.iter().position(|a| a == "--device").map_or(Ok(DeviceChoice::Cpu), |i| {
        args.get(i + 1).map_or(Err("--device needs a value".to_string()), |d| d.parse().map_err(|e| format!("{e}")))
    });
    let report =
        device.map_err(Into::into).and_then(|d| run(args.contains(&"--quick".into()), d, "checkpoints".as_ref()));
    let Ok(Report { summary: s, attack: a, bounds, .. }) = report.map_err(|e| eprintln!("error: {e}")) else {
        std::process::exit(1)
    };
    let (error, success) = (100.0 * s.test_error, 100.0 * a.success_rate);
    println!("{}: test error {error:.2}% after {} epochs ({:.1} s/epoch)", s.run, s.epochs, s.seconds_per_epoch);
    println!("L-BFGS: {success:.0}% reached their targets, mean distortion {:.4}", a.mean_distortion);
    println!("{}network bound {:.3e}", bounds.table().markdown(), bounds.network.unwrap_or(f64::NAN));
}
