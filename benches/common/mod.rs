//! What the training benches share: MNIST on the LibTorch CPU device, a model of the zoo, and the
//! SGD-Nesterov optimizer (learning rate 0.1) the shipped recipes use.

#![allow(dead_code)]

use burn::optim::ModuleOptimizer;
use burn::prelude::Device;

use blindspot::data::{Dataset, DatasetName, DeviceImages};
use blindspot::model::zoo;
use blindspot::train::optimizer;
use blindspot::train::{OptimizerConfig, OptimizerKind};
use blindspot::{DeviceChoice, ModelSpec, Stack};

pub const BATCH: usize = 128;
pub const LEARNING_RATE: f64 = 0.1;
pub const WEIGHT_DECAY: f64 = 1e-4;

pub struct Setup {
    pub data: Dataset,
    /// The device without autodiff (data, pools) and with it (the model).
    pub device: Device,
    pub autodiff: Device,
    pub train: DeviceImages,
}

impl Setup {
    pub fn new() -> Setup {
        let data = Dataset::load(DatasetName::Mnist, None).expect("MNIST in data/mnist");
        let device = DeviceChoice::Cpu.device().unwrap();
        let autodiff = device.clone().autodiff();
        device.seed(1);
        let train = DeviceImages::new(&data.train, &device);
        Setup { data, device, autodiff, train }
    }

    /// A freshly initialised `arch` for MNIST, on the autodiff device.
    pub fn model(&self, arch: &str) -> (ModelSpec, Stack) {
        let spec = zoo::spec(arch, [1, 28, 28], 10).unwrap();
        let model = spec.init(&self.autodiff);
        (spec, model)
    }
}

pub fn sgd() -> ModuleOptimizer {
    optimizer::build(&OptimizerConfig {
        momentum: 0.9,
        nesterov: true,
        ..OptimizerConfig::new(OptimizerKind::Sgd, LEARNING_RATE)
    })
}
