//! A user's model that lists no affine maps: the features that need them say so in one line; the
//! trainer's own checks (configs, an autodiff model) are one-line errors naming the field.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use blindspot::bounds::{Lanczos, LipschitzPenalty, PenaltyConfig, network_bounds};
use blindspot::data::{Dataset, DatasetName, Split, Splits};
use blindspot::pool::PoolConfig;
use blindspot::train::{OptimizerConfig, OptimizerKind, OutputConfig, TrainConfig};
use blindspot::{DeviceChoice, Layered, Trainer};

/// Softmax regression that keeps its weights to itself.
#[derive(Module, Debug)]
struct Private {
    linear: Linear,
}

impl Layered for Private {
    fn depth(&self) -> usize {
        1
    }
    fn layer(&self, _k: usize, h: Tensor<2>) -> Tensor<2> {
        self.linear.forward(h)
    }
    fn activation_box(&self, _k: usize) -> (f32, f32) {
        (0.0, 1.0)
    }
    fn classes(&self) -> usize {
        10
    }
}

fn splits() -> Splits {
    let mut s = Dataset::load(DatasetName::Mnist, None).unwrap().splits(Split::Full, 0);
    (s.train, s.test) = (s.train.head(300), s.test.head(100));
    s
}

fn trainer(device: &Device, dir: &std::path::Path, train: TrainConfig) -> Trainer<Private> {
    let model = Private { linear: LinearConfig::new(784, 10).init(device) };
    Trainer::new(model, splits(), train, OptimizerConfig::new(OptimizerKind::Sgd, 0.1)).output(OutputConfig {
        dir: dir.to_path_buf(),
        tensorboard: false,
        checkpoint_every: 1,
    })
}

fn error(t: Trainer<Private>) -> String {
    let message = t.run().err().expect("the run is refused").to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

#[test]
fn a_model_without_affine_maps_trains_but_refuses_bounds_and_the_penalty_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let device = DeviceChoice::Cpu.device().unwrap();
    let ad = device.clone().autodiff();

    // Training with a pool works: the bounds hook stays quiet, the metrics have no bounds.
    let pools = PoolConfig { pool_size: 100, attackers: 0, ..PoolConfig::new(vec![0]) };
    let done = trainer(&ad, tmp.path(), TrainConfig::new(2, 50)).pools(pools).run().unwrap();
    assert!(done.summary.test_error < 0.5, "{}", done.summary.test_error);
    assert!(done.summary.history.iter().all(|m| m.lipschitz.is_empty() && m.lipschitz_network.is_none()));

    let model = done.model.valid();
    let e = network_bounds(&model, &[], &Lanczos::default()).unwrap_err().to_string();
    assert!(e.contains("lists no affine maps"), "{e}");
    let mut penalty = LipschitzPenalty::new(&model, &PenaltyConfig::new(0.1), &device).unwrap();
    let e = penalty.penalty(&model).unwrap_err().to_string();
    assert!(e.contains("lists no affine maps"), "{e}");
    let penalised = trainer(&ad, tmp.path(), TrainConfig::new(1, 50)).name("penalised");
    let e = error(penalised.penalty(PenaltyConfig::new(0.1)));
    assert!(e.contains("lists no affine maps"), "{e}");
}

#[test]
fn the_trainer_checks_its_configs_and_its_model() {
    let tmp = tempfile::tempdir().unwrap();
    let device = DeviceChoice::Cpu.device().unwrap();
    let ad = device.clone().autodiff();
    let e = error(trainer(&ad, tmp.path(), TrainConfig::new(0, 50)));
    assert_eq!(e, "train: epochs: must be at least 1");
    let twice = PoolConfig::new(vec![0, 0]);
    let e = error(trainer(&ad, tmp.path(), TrainConfig::new(1, 50)).pools(twice));
    assert_eq!(e, "adversarial pools: layers: layer 0 is named twice (entry 2)");
    let far = PoolConfig::new(vec![3]);
    let e = error(trainer(&ad, tmp.path(), TrainConfig::new(1, 50)).pools(far));
    assert!(e.contains("layer 3 is out of range"), "{e}");
    let bad = PenaltyConfig { every: 0, ..PenaltyConfig::new(0.1) };
    let e = error(trainer(&ad, tmp.path(), TrainConfig::new(1, 50)).penalty(bad));
    assert_eq!(e, "lipschitz penalty: every: must be at least 1");
    let e = error(trainer(&device, tmp.path(), TrainConfig::new(1, 50)));
    assert!(e.contains("not on an autodiff device"), "{e}");
    // Settings that would silently do nothing, or less than they say.
    let e = error(trainer(&ad, tmp.path(), TrainConfig::new(1, 301)));
    assert_eq!(e, "batch_size 301 is larger than the 300 training images: every epoch would be one smaller batch");
    let late = PoolConfig { warmup_epochs: 2, ..PoolConfig::new(vec![0]) };
    let e = error(trainer(&ad, tmp.path(), TrainConfig::new(2, 50)).pools(late));
    assert!(e.contains("warmup_epochs 2 is not below epochs 2"), "{e}");
    let many = PoolConfig { attackers: 100_000, ..PoolConfig::new(vec![0]) };
    let e = error(trainer(&ad, tmp.path(), TrainConfig::new(1, 50)).pools(many));
    assert!(e.starts_with("adversarial pools: attackers: 100000 is more than 64 threads"), "{e}");
    let rare = PenaltyConfig { every: 100, ..PenaltyConfig::new(0.1) };
    let e = error(trainer(&ad, tmp.path(), TrainConfig::new(1, 50)).penalty(rare));
    assert_eq!(e, "the penalty's every = 100 is more than the run's 6 steps: it would apply at the first step only");
}
