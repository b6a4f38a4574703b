//! Weight averaging: an exponential moving average of the weights over the optimizer steps, kept
//! beside the weights the optimizer moves (Polyak averaging as the strongest robust models use it,
//! Gowal et al. 2020). A run with `train.ema` measures, checkpoints (as `model.bpk`) and hands on
//! the averaged weights; the raw weights go on training.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// The running average of a model's float parameters, an inference copy.
pub struct WeightAverage<M> {
    decay: f64,
    updates: u64,
    model: M,
}

impl<M: Module> WeightAverage<M> {
    /// An average that starts at `model` (an inference copy: `model.valid()`) after `updates`
    /// updates (the steps taken so far; 0 for a new run).
    pub fn new(decay: f64, model: M, updates: u64) -> WeightAverage<M> {
        WeightAverage { decay, updates, model }
    }

    /// Moves the average towards `current` (an inference copy of the same model): every parameter
    /// becomes `d · average + (1 − d) · current`, with `d` the decay, or less over the first steps
    /// (`(1 + t) / (10 + t)` after t updates) so early weights do not linger in a short run.
    pub fn update(&mut self, current: &M) {
        self.updates += 1;
        let t = self.updates as f64;
        let d = self.decay.min((1.0 + t) / (10.0 + t));
        let mut values = Values(Vec::new());
        current.visit(&mut values);
        let mut mix = Mix { values: values.0.into_iter(), d };
        self.model = self.model.clone().map(&mut mix);
    }

    /// The averaged weights.
    pub fn model(&self) -> &M {
        &self.model
    }

    pub fn into_model(self) -> M {
        self.model
    }
}

/// Every float parameter's value, flat, in the module's visiting order.
struct Values(Vec<Tensor<1>>);

impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().detach().flatten(0, D - 1));
    }
}

/// Mixes each float parameter with the next value of the same visiting order.
struct Mix<I> {
    values: I,
    d: f64,
}

impl<I: Iterator<Item = Tensor<1>>> ModuleMapper for Mix<I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let current = self.values.next().expect("the average and the model have the same parameters");
        let d = self.d;
        param.map(|average| {
            let shape = average.shape();
            average.mul_scalar(d) + current.reshape(shape).mul_scalar(1.0 - d)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    #[test]
    fn the_average_moves_towards_the_weights_by_the_decay() {
        let device = crate::backend::DeviceChoice::Cpu.device().unwrap();
        let a: Linear = LinearConfig::new(3, 2).init(&device);
        let b: Linear = LinearConfig::new(3, 2).init(&device);
        let mut average = WeightAverage::new(0.5, a.clone(), 1000);
        average.update(&b);
        let got: Vec<f32> = average.model().weight.val().into_data().iter::<f32>().collect();
        let (wa, wb): (Vec<f32>, Vec<f32>) =
            (a.weight.val().into_data().iter::<f32>().collect(), b.weight.val().into_data().iter::<f32>().collect());
        for ((g, x), y) in got.iter().zip(&wa).zip(&wb) {
            assert!((g - (0.5 * x + 0.5 * y)).abs() < 1e-6);
        }
        // Early on the average follows the weights more closely than the decay says.
        let mut early = WeightAverage::new(0.999, a, 0);
        early.update(&b);
        let first: Vec<f32> = early.model().weight.val().into_data().iter::<f32>().collect();
        let d = 2.0 / 11.0;
        for ((g, x), y) in first.iter().zip(&wa).zip(&wb) {
            assert!((g - (d * x + (1.0 - d) * y)).abs() < 1e-6, "d = 2/11 after one update");
        }
    }
}
