//! The attack library on real models: bounds hold, success is the model's word, batched equals
//! per-example, the L-BFGS attack finds the analytic minimum of a linear model, layer-aware attacks
//! stay in their layer's box, PGD stays in its ball.

mod common;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

use blindspot::attack::{self, Goal, LbfgsAttackConfig, Norm, PgdConfig, Surface, TargetKind};
use blindspot::data::{Dataset, DatasetName, DeviceImages};
use blindspot::model::{Layer, Stack, zoo};
use blindspot::{DeviceChoice, Layered};

fn device() -> Device {
    DeviceChoice::Cpu.device().unwrap()
}

fn test_batch(n: usize) -> blindspot::data::Batch {
    let data = Dataset::load(DatasetName::Mnist, None).unwrap();
    DeviceImages::new(&data.test.head(n), &device()).all()
}

fn fast_lbfgs() -> LbfgsAttackConfig {
    let mut c = LbfgsAttackConfig { search_steps: 8, ..Default::default() };
    c.solver.max_iterations = 40;
    c
}

fn predicted(model: &Stack, layer: usize, z: Tensor<2>) -> Vec<i64> {
    model.forward_from(layer, z).argmax(1).flatten::<1>(0, 1).into_data().iter::<i64>().collect()
}

#[test]
fn lbfgs_on_a_trained_model_succeeds_within_the_box_and_batched_equals_single() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::trained_model(tmp.path());
    let surface = Surface::new(&model, 0).unwrap();
    let batch = test_batch(8);
    let goal = TargetKind::Random.goal(&batch.labels, model.forward(batch.inputs.clone()), 5).unwrap();
    let together = attack::lbfgs(&surface, batch.inputs.clone(), &goal, &fast_lbfgs()).unwrap();

    // Bounds are never violated.
    let (lo, hi) = (
        together.adversarial.clone().min().into_scalar::<f32>(),
        together.adversarial.clone().max().into_scalar::<f32>(),
    );
    assert!(lo >= 0.0 && hi <= 1.0, "[{lo}, {hi}]");
    // Success is the model's own answer on the returned images.
    let targets: Vec<i64> = goal.targets.clone().unwrap().into_data().iter::<i64>().collect();
    let answers = predicted(&model, 0, together.adversarial.clone());
    for i in 0..8 {
        assert_eq!(together.success[i], answers[i] == targets[i]);
    }
    assert!(together.success.iter().all(|&s| s), "{:?}", together.success);
    let mean: f32 = together.distortion.iter().sum::<f32>() / 8.0;
    assert!(mean > 0.01 && mean < 0.2, "mean distortion {mean}");

    // Each example alone gets what it got in the batch.
    for i in [0, 3, 7] {
        let one = |t: Tensor<2>| t.slice(i..i + 1);
        let goal_i = Goal {
            labels: goal.labels.clone().slice(i..i + 1),
            targets: goal.targets.clone().map(|t| t.slice(i..i + 1)),
        };
        let alone = attack::lbfgs(&surface, one(batch.inputs.clone()), &goal_i, &fast_lbfgs()).unwrap();
        assert_eq!(alone.success[0], together.success[i]);
        let (a, b) = (alone.distortion[0], together.distortion[i]);
        assert!((a - b).abs() <= 0.02 * b, "example {i}: alone {a}, batched {b}");
    }
}

#[test]
fn lbfgs_finds_the_analytic_minimum_of_a_linear_model() {
    // A softmax regression where only classes 0 and 1 can win (the others have bias -100): the
    // least perturbation that moves x from class y to class l is the distance to the hyperplane
    // (w_l - w_y)·z + b_l - b_y = 0, margin / |w_l - w_y|.
    let device = device();
    device.seed(11);
    let mut model = zoo::spec("fc10", [1, 28, 28], 10).unwrap().init(&device);
    let weight = Tensor::<2>::random([784, 10], Distribution::Normal(0.0, 0.01), &device);
    let mut bias = vec![-100.0f32; 10];
    bias[0] = 0.0;
    bias[1] = 0.0;
    if let Layer::Dense(d) = &mut model.layers[0] {
        d.linear.weight = Param::from_tensor(weight.clone());
        d.linear.bias = Some(Param::from_tensor(Tensor::<1>::from_data(TensorData::new(bias, [10]), &device)));
    }
    let model = model.valid();
    let x = Tensor::<2>::random([6, 784], Distribution::Uniform(0.4, 0.6), &device);
    let labels = model.forward(x.clone()).argmax(1).flatten::<1>(0, 1);
    let targets = labels.clone().neg().add_scalar(1); // the other of classes 0 and 1
    let goal = Goal { labels: labels.clone(), targets: Some(targets.clone()) };
    let surface = Surface::new(&model, 0).unwrap();
    let mut config = LbfgsAttackConfig { search_steps: 14, ..Default::default() };
    config.solver.max_iterations = 200;
    let found = attack::lbfgs(&surface, x.clone(), &goal, &config).unwrap();

    let w: Vec<f32> = weight.into_data().iter::<f32>().collect();
    let xs: Vec<f32> = x.into_data().iter::<f32>().collect();
    let ys: Vec<i64> = labels.into_data().iter::<i64>().collect();
    for i in 0..6 {
        let (y, l) = (ys[i] as usize, 1 - ys[i] as usize);
        let dw: Vec<f32> = (0..784).map(|j| w[j * 10 + y] - w[j * 10 + l]).collect();
        let margin: f32 = (0..784).map(|j| dw[j] * xs[i * 784 + j]).sum();
        let norm = dw.iter().map(|v| v * v).sum::<f32>().sqrt();
        let analytic = margin / norm / 784f32.sqrt();
        assert!(found.success[i]);
        let ratio = found.distortion[i] / analytic;
        eprintln!("example {i}: found {} analytic {analytic} ratio {ratio}", found.distortion[i]);
        assert!(
            (1.0..=1.05).contains(&ratio),
            "example {i}: found {} vs analytic {analytic} (ratio {ratio})",
            found.distortion[i]
        );
    }
}

#[test]
fn layer_attacks_stay_in_their_box_and_pgd_in_its_ball() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::trained_model(tmp.path());
    let batch = test_batch(16);

    // Layer 1 (sigmoid outputs): the box is [0, 1]; attacks run through forward_from(1, ·).
    let surface = Surface::new(&model, 1).unwrap();
    let h = surface.start(batch.inputs.clone());
    let goal = TargetKind::Untargeted.goal(&batch.labels, surface.logits(h.clone()), 0).unwrap();
    let adv = attack::lbfgs(&surface, h.clone(), &goal, &fast_lbfgs()).unwrap();
    let (lo, hi) =
        (adv.adversarial.clone().min().into_scalar::<f32>(), adv.adversarial.clone().max().into_scalar::<f32>());
    assert!(lo >= 0.0 && hi <= 1.0, "[{lo}, {hi}]");
    let labels: Vec<i64> = batch.labels.clone().into_data().iter::<i64>().collect();
    let answers = predicted(&model, 1, adv.adversarial.clone());
    for i in 0..16 {
        assert_eq!(adv.success[i], answers[i] != labels[i]);
    }
    assert!(adv.success_rate() > 0.9, "{}", adv.success_rate());

    // PGD in an L∞ ball of 0.1 at the input: inside the ball and the box, and it fools this model often.
    let surface = Surface::new(&model, 0).unwrap();
    let goal = TargetKind::Untargeted.goal(&batch.labels, model.forward(batch.inputs.clone()), 0).unwrap();
    let config = PgdConfig { norm: Norm::Linf, epsilon: 0.1, step_size: 0.01, steps: 20, random_start: true };
    let adv = attack::pgd(&surface, batch.inputs.clone(), &goal, &config).unwrap();
    let r = (adv.adversarial.clone() - batch.inputs.clone()).abs().max().into_scalar::<f32>();
    assert!(r <= 0.1 + 1e-6, "left the ball: {r}");
    assert!(
        adv.adversarial.clone().min().into_scalar::<f32>() >= 0.0
            && adv.adversarial.clone().max().into_scalar::<f32>() <= 1.0
    );
    assert!(adv.success_rate() > 0.5, "PGD success {}", adv.success_rate());
    // FGSM at the same radius is weaker than PGD; Gaussian noise of stddev 0.1 far weaker.
    let fgsm = attack::fgsm(&surface, batch.inputs.clone(), &goal, 0.1).unwrap();
    let noise = attack::gaussian(&surface, batch.inputs.clone(), &goal, 0.1).unwrap();
    assert!(fgsm.success_rate() <= adv.success_rate());
    assert!(noise.success_rate() < 0.3, "noise success {}", noise.success_rate());

    assert!(Surface::new(&model, 3).is_err());
    assert!(Surface::new(&model, 2).is_ok());
}

/// A trained model whose last layer ends in a softmax (outputs are probabilities), or in noise
/// (a randomized model).
struct Ending(Stack, &'static str);

impl Layered for Ending {
    fn depth(&self) -> usize {
        self.0.depth()
    }
    fn layer(&self, k: usize, h: Tensor<2>) -> Tensor<2> {
        let h = self.0.layer(k, h);
        match (k == self.depth(), self.1) {
            (true, "softmax") => burn::tensor::activation::softmax(h, 1),
            (true, _) => h.clone() + Tensor::random(h.dims(), Distribution::Normal(0.0, 0.1), &h.device()),
            _ => h,
        }
    }
    fn activation_box(&self, k: usize) -> (f32, f32) {
        self.0.activation_box(k)
    }
    fn classes(&self) -> usize {
        self.0.classes()
    }
}

#[test]
fn the_ensemble_is_at_least_as_strong_as_pgd_adds_up_and_warns() {
    use attack::robustness::{EnsembleAttack, RobustnessConfig, robustness};
    let tmp = tempfile::tempdir().unwrap();
    let model = common::trained_model(tmp.path());
    let data = Dataset::load(DatasetName::Mnist, None).unwrap();
    let images = data.test.head(200);
    let config = RobustnessConfig {
        iterations: 20,
        target_classes: 3,
        square_queries: 300,
        batch: 128,
        ..RobustnessConfig::standard(Norm::Linf, 0.06)
    };
    let mut told = Vec::new();
    let report = robustness(&model, &images, &config, &device(), &mut |a| told.push(*a)).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // Progress: each pass is told batch by batch, to its end; APGD-T makes one pass per target.
    let ends: Vec<_> =
        told.iter().filter(|a| a.attacked == a.of).map(|a| (a.attack.name(), a.pass, a.passes)).collect();
    let expected = [("apgd-ce", 1, 1), ("apgd-t", 1, 3), ("apgd-t", 2, 3), ("apgd-t", 3, 3), ("square", 1, 1)];
    assert_eq!(ends, expected);
    assert!(told.windows(2).all(|w| w[1].robust <= w[0].robust), "robust so far never grows");
    assert!(told.iter().any(|a| a.attacked < a.of), "batches of 128 of more than 128 examples are told one by one");
    // Each attack's breakdown adds up to what the ensemble broke.
    let correct = (report.clean_accuracy * 200.0).round() as usize;
    let robust = (report.robust_accuracy * 200.0).round() as usize;
    let names: Vec<&str> = report.attacks.iter().map(|a| a.attack.as_str()).collect();
    assert_eq!(names, ["apgd-ce", "apgd-t", "square"]);
    assert_eq!(correct - report.attacks.iter().map(|a| a.broken).sum::<usize>(), robust);
    assert_eq!(report.attacks[2].robust, robust);
    assert_eq!(told.last().unwrap().robust, robust);
    assert!(robust > 0 && robust < correct, "{report:?}: the radius tests nothing");
    // PGD-20 of the same radius breaks no more than APGD.
    let batch = DeviceImages::new(&images, &device()).all();
    let surface = Surface::new(&model, 0).unwrap();
    let goal = Goal { labels: batch.labels.clone(), targets: None };
    let pgd = attack::pgd(&surface, batch.inputs.clone(), &goal, &PgdConfig::linf(0.06, 20)).unwrap();
    let pgd_robust = pgd.success.iter().filter(|s| !**s).count() as f64 / 200.0;
    assert!(report.robust_accuracy <= pgd_robust + 0.01, "APGD {} vs PGD-20 {pgd_robust}", report.robust_accuracy);
    // APGD's points stay in the ball and the box, and its success is the model's answer.
    let loss = attack::ApgdLoss::CrossEntropy;
    let made =
        attack::apgd(&surface, batch.inputs.clone(), &batch.labels, &loss, &attack::ApgdConfig::new(Norm::Linf, 0.06))
            .unwrap();
    let r = made.adversarial.clone() - batch.inputs.clone();
    assert!(r.abs().max().into_scalar::<f32>() <= 0.06 + 1e-6);
    assert!(
        made.adversarial.clone().min().into_scalar::<f32>() >= 0.0
            && made.adversarial.clone().max().into_scalar::<f32>() <= 1.0
    );
    let answers = predicted(&model, 0, made.adversarial.clone());
    let labels: Vec<i64> = batch.labels.clone().into_data().iter::<i64>().collect();
    assert!(made.success.iter().zip(answers.iter().zip(&labels)).all(|(s, (a, l))| *s == (a != l)));
    // Square alone, without gradients, breaks examples too, inside the ball and the box.
    let made = attack::square(
        &surface,
        batch.inputs.clone(),
        &batch.labels,
        [1, 28, 28],
        &attack::SquareConfig { queries: 300, ..attack::SquareConfig::new(Norm::Linf, 0.06) },
    )
    .unwrap();
    let r = made.adversarial.clone() - batch.inputs.clone();
    assert!(r.abs().max().into_scalar::<f32>() <= 0.06 + 1e-6);
    assert!(
        made.adversarial.clone().min().into_scalar::<f32>() >= 0.0
            && made.adversarial.clone().max().into_scalar::<f32>() <= 1.0
    );
    let broken = made.success.iter().filter(|s| **s).count();
    assert!(broken > 200 - correct, "square broke {broken} of 200 ({correct} classified right)");
    // Square in L2: its points stay in the Euclidean ball and the box, and it breaks examples.
    let made = attack::square(
        &surface,
        batch.inputs.clone(),
        &batch.labels,
        [1, 28, 28],
        &attack::SquareConfig { queries: 300, ..attack::SquareConfig::new(Norm::L2, 1.0) },
    )
    .unwrap();
    let norms = (made.adversarial.clone() - batch.inputs.clone()).square().sum_dim(1).sqrt();
    assert!(norms.max().into_scalar::<f32>() <= 1.0 + 1e-4);
    assert!(
        made.adversarial.clone().min().into_scalar::<f32>() >= 0.0
            && made.adversarial.clone().max().into_scalar::<f32>() <= 1.0
    );
    let broken_l2 = made.success.iter().filter(|s| **s).count();
    assert!(broken_l2 > 200 - correct, "L2 square broke {broken_l2} of 200 ({correct} classified right)");
    let answers = predicted(&model, 0, made.adversarial.clone());
    assert!(made.success.iter().zip(answers.iter().zip(&labels)).all(|(s, (a, l))| *s == (a != l)));
    // Radius 0 is refused; at a radius far below any margin nothing breaks; one attack alone is an
    // ensemble too.
    let zero = RobustnessConfig { epsilon: 0.0, attacks: vec![EnsembleAttack::ApgdCe], ..config.clone() };
    let e = robustness(&model, &images, &zero, &device(), &mut |_| ()).expect_err("radius 0 is refused").to_string();
    assert_eq!(e, "epsilon: 0 is not a positive radius");
    let still = RobustnessConfig { epsilon: 1e-6, ..zero };
    let report = robustness(&model, &images, &still, &device(), &mut |_| ()).unwrap();
    assert_eq!(report.robust_accuracy, report.clean_accuracy);
    // A model that outputs probabilities is flagged; so is a randomized one (dropout left on).
    for (ending, warning) in [("softmax", "probabilities"), ("noise", "randomized")] {
        let report = robustness(&Ending(model.clone(), ending), &images, &still, &device(), &mut |_| ()).unwrap();
        assert!(report.warnings.iter().any(|w| w.contains(warning)), "{ending}: {:?}", report.warnings);
    }
    // Bad settings are refused by name.
    let bad = RobustnessConfig { iterations: 0, ..config };
    assert_eq!(
        robustness(&model, &images, &bad, &device(), &mut |_| ()).unwrap_err().to_string(),
        "iterations: must be at least 1"
    );
}
