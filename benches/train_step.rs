//! Speed of training FC100-100-10 on LibTorch CPU (batch 128): one optimizer step, and one full
//! epoch over MNIST's 60,000 training images. Compare with `benches/pytorch_epoch.py` on the same
//! machine (README reports both).

use criterion::{Criterion, criterion_group, criterion_main};

use blindspot::data::{Dataset, DatasetName, DeviceImages, shuffled_batches};
use blindspot::model::zoo;
use blindspot::recipe::{OptimizerKind, OptimizerSection, Schedule};
use blindspot::train::{optimizer, train_step};

fn bench(c: &mut Criterion) {
    let data = Dataset::load(DatasetName::Mnist, None).expect("MNIST in data/mnist");
    let device = blindspot::DeviceChoice::Cpu.device().unwrap();
    let ad = device.clone().autodiff();
    device.seed(1);
    let spec = zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap();
    let train = DeviceImages::new(&data.train, &device);
    let section = OptimizerSection {
        kind: OptimizerKind::Sgd,
        learning_rate: 0.1,
        momentum: 0.9,
        nesterov: true,
        schedule: Schedule::Constant,
        warmup: 0.3,
        final_fraction: 0.0,
    };
    let mut optim = optimizer::build(&section);
    let mut model = Some(spec.init(&ad));
    let batches = shuffled_batches(train.len(), 128, 1);

    let mut i = 0;
    c.bench_function("fc100-100-10 train step (batch 128, libtorch cpu)", |b| {
        b.iter(|| {
            let batch = train.batch(&batches[i % batches.len()]);
            i += 1;
            let out = train_step(model.take().unwrap(), &mut optim, batch, &[], 0.1, 1e-4);
            out.loss.into_scalar::<f32>();
            model = Some(out.model);
        })
    });

    let mut group = c.benchmark_group("epoch");
    group.sample_size(10);
    group.bench_function("fc100-100-10 epoch (60,000 images, batch 128, libtorch cpu)", |b| {
        b.iter(|| {
            let mut last = None;
            for indices in &batches {
                let out = train_step(model.take().unwrap(), &mut optim, train.batch(indices), &[], 0.1, 1e-4);
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
