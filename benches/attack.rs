//! Throughput of the paper's L-BFGS attack (random wrong targets, the first correctly classified
//! training images) on FC100-100-10 trained for 10 epochs on LibTorch CPU, as
//! `benches/pytorch_lbfgs_attack.py` measures the SciPy ways. The model is trained once, in the
//! bench's set-up (a few seconds), so the bench needs no checkpoint.

use burn::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use blindspot::attack::{self, LbfgsAttackConfig, Surface, TargetKind};
use blindspot::data::{Dataset, DatasetName, DeviceImages};
use blindspot::recipe;
use blindspot::train;
use blindspot::{DeviceChoice, Existing, Layered, Stack, TrainOptions};

const EXAMPLES: usize = 200;

fn model(device: &Device) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "name=bench".to_string(),
        "train.epochs=10".into(),
        "optimizer.learning_rate=0.1".into(),
        "optimizer.schedule=\"constant\"".into(),
        format!("output.dir=\"{}\"", dir.path().display()),
        "output.tensorboard=false".into(),
    ];
    let r = recipe::load("recipes/fc100-100-10-weight-decay.toml".as_ref(), &sets).unwrap();
    recipe::run(&r, &TrainOptions { device: DeviceChoice::Cpu, existing: Existing::Refuse }, vec![]).unwrap();
    let ckpt = train::Checkpoint::open(&recipe::run_dir(&r)).unwrap();
    ckpt.load_model(recipe::model_spec(&r, [1, 28, 28], 10).unwrap().init(device)).unwrap().valid()
}

fn bench(c: &mut Criterion) {
    let device = DeviceChoice::Cpu.device().unwrap();
    let model = model(&device);
    let data = Dataset::load(DatasetName::Mnist, None).unwrap();
    let images = DeviceImages::new(&data.train.head(2 * EXAMPLES), &device);
    let all = images.all();
    let right: Vec<usize> = model
        .forward(all.inputs.clone())
        .argmax(1)
        .flatten::<1>(0, 1)
        .equal(all.labels.clone())
        .into_data()
        .iter::<bool>()
        .enumerate()
        .filter(|(_, ok)| *ok)
        .map(|(i, _)| i)
        .take(EXAMPLES)
        .collect();
    let batch = images.batch(&right);
    let surface = Surface::new(&model, 0).unwrap();
    let goal = TargetKind::Random.goal(&batch.labels, model.forward(batch.inputs.clone()), 1).unwrap();
    let config = LbfgsAttackConfig::default();

    let found = attack::lbfgs(&surface, batch.inputs.clone(), &goal, &config).expect("the default settings");
    let mean = found.distortion.iter().sum::<f32>() / found.len() as f32;
    eprintln!(
        "L-BFGS attack, {EXAMPLES} examples: success {:.1}%, mean distortion {mean:.4}",
        100.0 * found.success_rate()
    );

    let mut group = c.benchmark_group("lbfgs attack");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EXAMPLES as u64));
    group.bench_function(format!("fc100-100-10, batch {EXAMPLES}, libtorch cpu"), |b| {
        b.iter(|| {
            attack::lbfgs(&surface, batch.inputs.clone(), &goal, &config).expect("the default settings").success_rate()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
