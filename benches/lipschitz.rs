//! Speed of the paper's Table 5 for the AlexNet-shaped stack (random weights, seed 1) on LibTorch
//! CPU: all eight layers' bounds to the default tolerance, the model built once outside the loop.
//! Issue 5's target is 1 s on CPU; README reports what this measures.

use criterion::{Criterion, criterion_group, criterion_main};

use blindspot::DeviceChoice;
use blindspot::bounds::{Lanczos, network_bounds};
use blindspot::model::zoo;

fn bench(c: &mut Criterion) {
    let device = DeviceChoice::Cpu.device().unwrap();
    device.seed(1);
    let spec = zoo::spec("alexnet", [3, 224, 224], 10).unwrap();
    let model = spec.init(&device);
    let mut group = c.benchmark_group("lipschitz");
    group.sample_size(10);
    group.bench_function("alexnet table (8 layers, libtorch cpu)", |b| {
        b.iter(|| network_bounds(&model, &[], &Lanczos::default()).unwrap().network)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
