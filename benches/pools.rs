//! Trainer throughput with adversarial pools on vs off: FC100-100-10, batch 128, LibTorch CPU,
//! 100 optimizer steps per iteration. Pools: one FGSM input pool of 10,000 (ε 0.1), ratio 0.5 (128
//! pool examples join each clean batch of 128), snapshots every 50 steps, filled before measuring;
//! `attackers` threads (0, 1, 2) make the examples. Throughput counts every example trained on.

use std::sync::Arc;

use burn::optim::ModuleOptimizer;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;

use blindspot::Stack;
use blindspot::data::{DeviceImages, shuffled_batches};
use blindspot::pool::{AdversarialLoader, SnapshotCell};
use blindspot::recipe;
use blindspot::train::{Regularizers, train_step};
use common::{BATCH, LEARNING_RATE, Setup, WEIGHT_DECAY, sgd};

const STEPS: usize = 100;

fn weight_decay() -> Regularizers<'static> {
    Regularizers { weight_decay: WEIGHT_DECAY, ..Regularizers::default() }
}

fn bench(c: &mut Criterion) {
    let setup = Setup::new();
    let (device, train) = (&setup.device, &setup.train);
    let shared = Arc::new(setup.data.train.clone());
    let batches = shuffled_batches(train.len(), BATCH, 1);
    let mut optim = sgd();
    let mut model: Option<Stack> = Some(setup.model("fc100-100-10").1);
    let mut step = 0u64;

    let mut group = c.benchmark_group("trainer throughput");
    group.sample_size(10);
    group.throughput(Throughput::Elements((STEPS * BATCH) as u64));
    group.bench_function("pools off", |b| {
        b.iter(|| {
            let mut last = None;
            for _ in 0..STEPS {
                let batch = train.batch(&batches[step as usize % batches.len()]);
                let out =
                    train_step(model.take().unwrap(), &mut optim, batch, &[], LEARNING_RATE, weight_decay()).unwrap();
                step += 1;
                last = Some(out.loss);
                model = Some(out.model);
            }
            last.unwrap().into_scalar::<f32>()
        })
    });
    group.throughput(Throughput::Elements((STEPS * 2 * BATCH) as u64));
    for attackers in [0, 1, 2] {
        let text = format!(
            "name = \"b\"\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\n[train]\nepochs = 1\nbatch_size = {BATCH}\n[adversarial]\nlayers = [0]\nattackers = {attackers}\nmax_staleness = 500\n"
        );
        let pools = recipe::parse(&text, "bench", &[]).unwrap().adversarial.unwrap();
        let cell = Arc::new(SnapshotCell::default());
        cell.publish(model.as_ref().unwrap(), step);
        let mut loader =
            AdversarialLoader::new(&pools, model.as_ref().unwrap(), shared.clone(), cell.clone(), 1, device, None)
                .unwrap();
        // Fill the pool first.
        while loader.pools()[0].len() < pools.pool_size {
            pooled_steps(&mut loader, &cell, &mut model, &mut optim, &mut step, train, &batches);
        }
        group.bench_function(format!("pools on, {attackers} attacker threads"), |b| {
            b.iter(|| pooled_steps(&mut loader, &cell, &mut model, &mut optim, &mut step, train, &batches))
        });
        loader.shutdown();
    }
    group.finish();
}

/// `STEPS` optimizer steps, each on a clean batch and the pool examples drawn for it.
fn pooled_steps(
    loader: &mut AdversarialLoader<Stack>,
    cell: &SnapshotCell<Stack>,
    model: &mut Option<Stack>,
    optim: &mut ModuleOptimizer,
    step: &mut u64,
    train: &DeviceImages,
    batches: &[Vec<usize>],
) -> f32 {
    let mut last = None;
    for _ in 0..STEPS {
        let adversarial = loader.draw(*step, BATCH, true).unwrap();
        let batch = train.batch(&batches[*step as usize % batches.len()]);
        let out = train_step(model.take().unwrap(), optim, batch, &adversarial, LEARNING_RATE, weight_decay()).unwrap();
        *step += 1;
        if step.is_multiple_of(50) {
            cell.publish(&out.model, *step);
        }
        last = Some(out.loss);
        *model = Some(out.model);
    }
    last.unwrap().into_scalar::<f32>()
}

criterion_group!(benches, bench);
criterion_main!(benches);
