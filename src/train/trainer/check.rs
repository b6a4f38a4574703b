//! The trainer's checks: every setting, and how the settings fit each other, the data and the
//! model, before `run` takes the lock or touches the run folder.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use super::{Error, Existing, Trainer};
use crate::backend::DeviceChoice;
use crate::pool::PoolModel;

impl<M: PoolModel> Trainer<M> {
    pub(super) fn check(&self) -> Result<(), Error> {
        let config = |section| move |source| Error::Config { section, source };
        self.train.check().map_err(config("train"))?;
        self.optimizer.check().map_err(config("optimizer"))?;
        self.output.check().map_err(config("output"))?;
        if self.data.train.is_empty() {
            return Err(Error::NoTrainingData);
        }
        let (batch, examples) = (self.train.batch_size, self.data.train.len());
        if batch > examples {
            return Err(Error::BatchTooLarge { batch, examples });
        }
        if let Some(fresh) = &self.fresh {
            fresh.check().map_err(config("fresh adversarial examples"))?;
            if fresh.ramp_epochs > self.train.epochs as f64 {
                return Err(Error::RampTooLong { ramp: fresh.ramp_epochs, epochs: self.train.epochs });
            }
        }
        if let Some(certified) = &self.certified {
            certified.check(self.train.epochs).map_err(config("certified training"))?;
        }
        if let Some(&first) = self.train.devices.first() {
            if self.certified.is_some() {
                return Err(Error::CertifiedOnDevices);
            }
            let on = self.model.devices().into_iter().next().ok_or(Error::NotAutodiff)?;
            let model = DeviceChoice::of(&on.without_autodiff());
            if first != model {
                return Err(Error::FirstDevice { first, model });
            }
            for device in &self.train.devices {
                device.device()?;
            }
        }
        if let Some(bank) = &self.bank {
            bank.check(self.train.epochs).map_err(config("perturbation bank"))?;
            if self.fresh.is_some() {
                return Err(Error::BankWithFresh);
            }
        }
        // The model's layers are counted, not run: a run's first read of its weights initialises
        // them, and that belongs to the first step.
        let depth = self.model.depth();
        if let Some(pools) = &self.pools {
            pools.check().map_err(config("adversarial pools"))?;
            pools.check_layers(depth).map_err(crate::pool::Error::from)?;
            if pools.warmup_epochs >= self.train.epochs {
                return Err(Error::WarmupTooLong { warmup: pools.warmup_epochs, epochs: self.train.epochs });
            }
        }
        let steps = self.train.epochs * examples.div_ceil(batch);
        if let Some(penalty) = &self.penalty {
            penalty.check().map_err(config("lipschitz penalty"))?;
            penalty.check_layers(depth).map_err(crate::bounds::Error::from)?;
            if penalty.every > steps {
                return Err(Error::PenaltyOnce { every: penalty.every, steps });
            }
        }
        if !on_autodiff(&self.model) {
            return Err(Error::NotAutodiff);
        }
        if !self.writes && self.existing == Existing::Resume {
            return Err(Error::ResumeWithoutOutput);
        }
        Ok(())
    }
}

/// Whether the module's first float parameter is on an autodiff device (true for a module
/// without parameters, which has nothing to train). Reads no weight: burn initialises them lazily,
/// and a fresh model's first read belongs to the first step.
fn on_autodiff<M: Module>(model: &M) -> bool {
    struct First(Option<bool>);
    impl ModuleVisitor for First {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.is_none() {
                self.0 = Some(param.lazy_device().is_autodiff());
            }
        }
    }
    let mut first = First(None);
    model.visit(&mut first);
    first.0.unwrap_or(true)
}
