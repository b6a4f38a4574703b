//! Speed of training on LibTorch CPU (batch 128): one optimizer step of FC100-100-10 and of the
//! convnet, each with weight decay alone and with the Lipschitz penalty added (one power-iteration
//! step per layer, every step or every 4th: the regularizer's cost), and one full FC100-100-10 epoch over
//! MNIST's 60,000 training images. Compare the epoch with `benches/pytorch_epoch.py` on the same
//! machine (README reports both).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};

use blindspot::bounds::{LipschitzPenalty, PenaltyConfig};
use blindspot::data::shuffled_batches;
use blindspot::train::{Regularizers, train_step};
use common::{BATCH, LEARNING_RATE, Setup, WEIGHT_DECAY, sgd};

fn bench(c: &mut Criterion) {
    let setup = Setup::new();
    let batches = shuffled_batches(setup.train.len(), BATCH, 1);
    for arch in ["fc100-100-10", "convnet"] {
        for every in [0, 1, 4] {
            let penalised = every > 0;
            let section = PenaltyConfig { every: every.max(1), ..PenaltyConfig::new(1e-3) };
            let (_, model) = setup.model(arch);
            let mut model = Some(model);
            let mut optim = sgd();
            let mut penalty = LipschitzPenalty::new(model.as_ref().unwrap(), &section, &setup.device).unwrap();
            let name = format!(
                "{arch} train step (batch {BATCH}, libtorch cpu){}",
                if penalised { format!(" + lipschitz penalty every {every} steps") } else { String::new() }
            );
            let mut i = 0;
            c.bench_function(&name, |b| {
                b.iter(|| {
                    let batch = setup.train.batch(&batches[i % batches.len()]);
                    i += 1;
                    let lipschitz = if penalised { penalty.if_due(i as u64) } else { None };
                    let regularizers =
                        Regularizers { weight_decay: WEIGHT_DECAY, lipschitz, ..Regularizers::default() };
                    let out =
                        train_step(model.take().unwrap(), &mut optim, batch, &[], LEARNING_RATE, regularizers).unwrap();
                    out.loss.into_scalar::<f32>();
                    model = Some(out.model);
                })
            });
        }
    }

    let (_, model) = setup.model("fc100-100-10");
    let mut model = Some(model);
    let mut optim = sgd();
    let mut group = c.benchmark_group("epoch");
    group.sample_size(10);
    group.bench_function("fc100-100-10 epoch (60,000 images, batch 128, libtorch cpu)", |b| {
        b.iter(|| {
            let mut last = None;
            for indices in &batches {
                let regularizers = Regularizers { weight_decay: WEIGHT_DECAY, ..Regularizers::default() };
                let out = train_step(
                    model.take().unwrap(),
                    &mut optim,
                    setup.train.batch(indices),
                    &[],
                    LEARNING_RATE,
                    regularizers,
                )
                .unwrap();
                last = Some(out.loss);
                model = Some(out.model);
            }
            last.unwrap().into_scalar::<f32>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
