//! Lipschitz bounds against the explicitly built linear operators: a dense layer's bound is its largest
//! singular value; a circular convolution's FFT bound (with stride) equals the operator's norm; a
//! zero-padded convolution's is an upper bound of it, which power iteration through conv2d /
//! conv_transpose2d approaches from below; a certified bound (for `certify`) is proven never below
//! the norm.

use burn::linalg::svd;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use blindspot::bounds::{self, Boundary, ConvGeometry, ConvMethod, Lanczos};
use blindspot::model::{Affine, Layer, LayerSpec, Nonlinearity, zoo};
use blindspot::{DeviceChoice, Layered};

fn device() -> Device {
    let device = DeviceChoice::Cpu.device().unwrap();
    device.seed(11);
    device
}

/// The largest singular value of a `rows × cols` matrix, by burn-linalg's SVD.
fn exact_norm(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> f64 {
    let m = Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), device);
    let (_, s, _) = svd::<2, 1>(m, 100);
    f64::from(s.into_data().iter::<f32>().next().unwrap())
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

const LANCZOS: Lanczos = Lanczos { max_iterations: 5000, tolerance: 1e-7 };

#[test]
fn a_dense_bound_is_the_largest_singular_value() {
    let device = device();
    for (rows, cols) in [(60, 40), (30, 90), (1, 17)] {
        let w = Tensor::<2>::random([rows, cols], Distribution::Normal(0.0, 1.0), &device);
        let exact = exact_norm(w.to_data().iter::<f32>().collect(), rows, cols, &device);
        let bound = bounds::dense_bound(&w, &LANCZOS);
        assert!(relative(bound, exact) < 1e-4, "{rows}x{cols}: {bound} vs {exact}");
    }
    // Both sides over 1024: no Gram matrix, two products per step; rank one: the Krylov space ends
    // after one step. An all-ones rows × cols matrix has norm √(rows·cols).
    for (rows, cols) in [(1100, 1030), (1030, 1100)] {
        let bound = bounds::dense_bound(&Tensor::<2>::ones([rows, cols], &device), &LANCZOS);
        let exact = ((rows * cols) as f64).sqrt();
        assert!(relative(bound, exact) < 1e-5, "ones {rows}x{cols}: {bound} vs {exact}");
    }
}

/// The circular, stride-`s` convolution (burn's cross-correlation) as a matrix: rows (d, m1, m2),
/// columns (c, x1, x2).
fn circular_operator(w: &[f32], [out, inp, k]: [usize; 3], n: usize, s: usize) -> (Vec<f32>, usize, usize) {
    let o = n / s;
    let (rows, cols) = (out * o * o, inp * n * n);
    let mut m = vec![0f32; rows * cols];
    for d in 0..out {
        for m1 in 0..o {
            for m2 in 0..o {
                let row = (d * o + m1) * o + m2;
                for c in 0..inp {
                    for u1 in 0..k {
                        for u2 in 0..k {
                            let (x1, x2) = ((s * m1 + u1) % n, (s * m2 + u2) % n);
                            m[row * cols + (c * n + x1) * n + x2] += w[((d * inp + c) * k + u1) * k + u2];
                        }
                    }
                }
            }
        }
    }
    (m, rows, cols)
}

#[test]
fn the_fft_bound_of_a_circular_convolution_is_its_norm_for_every_stride() {
    let device = device();
    for (stride, n, k) in [(1, 8, 3), (2, 12, 3), (3, 12, 5), (4, 8, 4)] {
        let shape = [4, 3, k];
        let w = Tensor::<4>::random([4, 3, k, k], Distribution::Normal(0.0, 1.0), &device);
        let host: Vec<f32> = w.to_data().iter::<f32>().collect();
        let (m, rows, cols) = circular_operator(&host, shape, n, stride);
        let exact = exact_norm(m, rows, cols, &device);
        let geometry = ConvGeometry { input: [n, n], stride, padding: 0, boundary: Boundary::Circular };
        for method in [ConvMethod::Matrices, ConvMethod::Taps] {
            let bound = bounds::conv_bound_by(&w, &geometry, &LANCZOS, method).unwrap();
            assert!(relative(bound, exact) < 1e-4, "{method:?} stride {stride}, n {n}, k {k}: {bound} vs {exact}");
        }
    }
}

#[test]
fn both_ways_of_applying_the_frequency_matrices_give_the_same_bound() {
    let device = device();
    for (outputs, inputs, kernel, input, stride, padding) in
        [(48, 32, 3, 13, 1, 1), (40, 24, 5, 12, 2, 2), (16, 3, 7, 20, 4, 3)]
    {
        let w = Tensor::<4>::random([outputs, inputs, kernel, kernel], Distribution::Normal(0.0, 0.1), &device);
        let geometry = ConvGeometry { input: [input, input], stride, padding, boundary: Boundary::Zero };
        let [by_matrices, by_taps] = [ConvMethod::Matrices, ConvMethod::Taps]
            .map(|method| bounds::conv_bound_by(&w, &geometry, &LANCZOS, method).unwrap());
        let chosen = bounds::conv_bound(&w, &geometry, &LANCZOS).unwrap();
        assert!(relative(by_taps, by_matrices) < 1e-4, "{outputs}x{inputs}x{kernel}: {by_taps} vs {by_matrices}");
        assert!(relative(chosen, by_matrices) < 1e-4, "{outputs}x{inputs}x{kernel}: {chosen} vs {by_matrices}");
    }
}

/// A zero-padded convolution as a matrix, by applying burn's conv2d to every basis vector.
fn zero_padded_operator(
    w: &Tensor<4>,
    [c, h, wd]: [usize; 3],
    stride: usize,
    padding: usize,
) -> (Vec<f32>, usize, usize) {
    let n = c * h * wd;
    let eye = Tensor::<2>::eye(n, &w.device()).reshape([n, c, h, wd]);
    let y = conv2d(eye, w.clone(), None, ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1));
    let y = y.flatten::<2>(1, 3);
    let [_, rows] = y.dims();
    (y.transpose().to_data().iter::<f32>().collect(), rows, n)
}

/// Three zero-padded convolutions (strides 2, 1 and 3): each one's map, the exact norm of its
/// explicit operator, and its name.
fn padded_convolutions(device: &Device) -> Vec<(Affine, f64, String)> {
    [([3, 11, 11], 5, 3, 2, 1), ([2, 9, 9], 4, 5, 1, 2), ([1, 13, 13], 3, 4, 3, 0)]
        .into_iter()
        .map(|(input, channels, kernel, stride, padding)| {
            let spec = LayerSpec::Conv {
                input,
                channels,
                kernel,
                stride,
                padding,
                nonlinearity: Nonlinearity::Relu,
                pool: None,
                dropout: 0.0,
            };
            let layer = Layer::new(&spec, device);
            let Layer::Conv(conv) = &layer else { unreachable!() };
            let (m, rows, cols) = zero_padded_operator(&conv.conv.weight.val(), input, stride, padding);
            (layer.affine_map(1).map, exact_norm(m, rows, cols, device), format!("{input:?} stride {stride}"))
        })
        .collect()
}

#[test]
fn a_zero_padded_convolution_is_bounded_and_power_iteration_through_conv_agrees_with_its_norm() {
    let device = device();
    for (map, exact, name) in padded_convolutions(&device) {
        let bound = bounds::affine_bound(&map, &LANCZOS).unwrap();
        assert!(bound >= exact * (1.0 - 1e-5), "{name}: bound {bound} < norm {exact}");
        let estimate = bounds::power_iteration_estimate(&map, 2000);
        assert!(relative(estimate, exact) < 1e-3, "{name}: power iteration {estimate} vs {exact}");
    }
}

#[test]
fn the_network_bound_is_the_product_of_layer_bounds_nonlinearities_and_pooling() {
    let device = device();
    let spec = zoo::spec("convnet", [1, 28, 28], 10).unwrap();
    let model = spec.init(&device);
    let b = bounds::network_bounds(&model, &[], &Lanczos::default()).unwrap();
    assert_eq!(b.layers.len(), 4);
    assert_eq!(b.layers.iter().map(|l| l.after).collect::<Vec<_>>(), vec![1.0, 1.0, 1.0, 1.0]);
    let product: f64 = b.layers.iter().map(|l| l.bound * l.after).product();
    assert!(relative(b.network.unwrap(), product) < 1e-12);
    let only = bounds::network_bounds(&model, &[2], &Lanczos::default()).unwrap();
    assert_eq!(only.layers.len(), 1);
    assert!(only.network.is_none());
    assert!(relative(only.layers[0].bound, b.layers[1].bound) < 1e-5);
    let err = bounds::network_bounds(&model, &[5], &Lanczos::default()).unwrap_err();
    assert_eq!(err.to_string(), "layer 5 is out of range: the model has layers 1 to 4");

    // Sigmoid layers pass on a quarter; AlexNet's overlapping 3/2 max-pooling can double a distance.
    let after =
        |model: &blindspot::Stack| -> Vec<f64> { model.affine_maps().unwrap().iter().map(|m| m.after).collect() };
    let fc = zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap().init(&device);
    assert_eq!(after(&fc), vec![0.25, 0.25, 1.0]);
    let alexnet = zoo::spec("alexnet", [3, 224, 224], 1000).unwrap().init(&device);
    assert_eq!(after(&alexnet)[0], 2.0);
}

#[test]
fn every_penalty_mode_is_its_formula_of_the_layer_bounds() {
    use blindspot::bounds::{LipschitzPenalty, PenaltyConfig, PenaltyMode};
    let device = device();
    let autodiff = device.clone().autodiff();
    let spec = zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap();
    let model = spec.init(&autodiff);
    let sigmas: Vec<f64> =
        bounds::network_bounds(&model.valid(), &[], &LANCZOS).unwrap().layers.iter().map(|l| l.bound).collect();
    let target = 0.9 * sigmas[1];
    for (mode, expected) in [
        (PenaltyMode::Sum, sigmas.iter().sum::<f64>()),
        (PenaltyMode::LogProduct, sigmas.iter().map(|s| s.ln()).sum()),
        (PenaltyMode::Hinge, sigmas.iter().map(|s| (s - target).max(0.0).powi(2)).sum()),
    ] {
        let section = PenaltyConfig { weight: 0.5, mode, target, iterations: 300, every: 2, layers: vec![] };
        let mut penalty = LipschitzPenalty::new(&model, &section, &device).unwrap();
        let value = f64::from(penalty.penalty(&model).unwrap().into_scalar::<f32>());
        // every = 2 doubles the weight: the penalty is applied every other step.
        let want = 2.0 * 0.5 * expected;
        assert!((value - want).abs() < 1e-3 * want.abs().max(1e-3), "{mode:?}: {value} vs {want}");
    }
}

#[test]
fn a_certified_bound_is_never_below_the_norm_and_stays_close_to_the_estimate() {
    let device = device();
    let close = |certified: f64, estimate: f64, exact: f64, what: &str| {
        assert!(certified >= exact * (1.0 - 1e-6), "{what}: certified {certified} < norm {exact}");
        assert!(certified >= estimate, "{what}: certified {certified} < estimate {estimate}");
        assert!(certified <= estimate * (1.0 + 1e-3), "{what}: certified {certified} far above estimate {estimate}");
    };
    for (rows, cols) in [(60, 40), (30, 90), (1, 17)] {
        let w = Tensor::<2>::random([rows, cols], Distribution::Normal(0.0, 1.0), &device);
        let exact = exact_norm(w.to_data().iter::<f32>().collect(), rows, cols, &device);
        let map = Affine::Dense { weight: w };
        let (estimate, certified) =
            (bounds::affine_bound(&map, &LANCZOS).unwrap(), bounds::certified_bound(&map, &LANCZOS).unwrap());
        close(certified, estimate, exact, &format!("dense {rows}x{cols}"));
    }
    for (map, exact, name) in padded_convolutions(&device) {
        let (estimate, certified) =
            (bounds::affine_bound(&map, &LANCZOS).unwrap(), bounds::certified_bound(&map, &LANCZOS).unwrap());
        close(certified, estimate, exact, &format!("conv {name}"));
    }
    // A loose estimate (one Lanczos step) is raised until proven: the certificate never rests on it.
    let w = Tensor::<2>::random([50, 50], Distribution::Normal(0.0, 1.0), &device);
    let exact = exact_norm(w.to_data().iter::<f32>().collect(), 50, 50, &device);
    let map = Affine::Dense { weight: w };
    let rough = Lanczos { max_iterations: 1, tolerance: 1e-7 };
    let certified = bounds::certified_bound(&map, &rough).unwrap();
    assert!(certified >= exact * (1.0 - 1e-6), "from one step: certified {certified} < norm {exact}");
}
