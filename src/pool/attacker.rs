//! Attackers: threads that take the newest model snapshot, draw training examples, attack them at
//! their layer and send the results to the loader through a bounded channel. Each makes its share
//! of `refresh · pool_size` examples per layer and snapshot, then waits for the next snapshot. A
//! stop flag ends them; a panicking attacker reports its message instead of dying silently.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::prelude::*;
use crossbeam::channel::{Receiver, Sender, bounded, unbounded};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::config::{PoolAttack, PoolConfig, PoolTarget};
use super::snapshot::PoolModel;
use super::snapshot::SnapshotCell;
use super::store::Entry;
use crate::attack::{self, LbfgsAttackConfig, PgdConfig, Surface, TargetKind};
use crate::data::{DeviceImages, Images};
use crate::model::Layered;

/// Examples made for one pool from one snapshot.
pub struct Delivery {
    pub layer: usize,
    pub rows: Vec<f32>,
    pub entries: Vec<Entry>,
    /// Examples attacked, and how many the attack made the model get wrong.
    pub attempted: usize,
    pub succeeded: usize,
    pub seconds: f64,
}

/// Attacks `indices` of `train` at layer `layer` of `model` (a snapshot of version `version`,
/// on `device`). FGSM / PGD keep every perturbed example (untargeted); L-BFGS keeps its successes
/// (random targets, or untargeted when the config says so).
#[allow(clippy::too_many_arguments)]
pub fn generate(
    model: &dyn Layered,
    device: &Device,
    layer: usize,
    train: &Images,
    indices: &[usize],
    section: &PoolConfig,
    version: u64,
    seed: u64,
) -> Delivery {
    let started = Instant::now();
    let batch = DeviceImages::new(&train.select(indices), device).all();
    let surface = Surface::new(model, layer).expect("the loader checks pool layers against the model");
    let start = surface.start(batch.inputs);
    // FGSM and PGD perturb within a radius and keep every example; L-BFGS keeps the examples that
    // reached its goal.
    let radius = || section.epsilon_of(layer).expect("the loader checks pool layers against the config");
    let (keeps_all, target) = match &section.attack {
        PoolAttack::Lbfgs { target: PoolTarget::Random, .. } => (false, TargetKind::Random),
        PoolAttack::Lbfgs { target: PoolTarget::Untargeted, .. } => (false, TargetKind::Untargeted),
        PoolAttack::Fgsm { .. } | PoolAttack::Pgd { .. } => (true, TargetKind::Untargeted),
    };
    let goal = target
        .goal(&batch.labels, surface.logits(start.clone()), seed)
        .expect("random and untargeted goals always exist");
    let adv = match &section.attack {
        PoolAttack::Fgsm { .. } => attack::fgsm(&surface, start, &goal, radius()),
        PoolAttack::Pgd { steps, .. } => attack::pgd(&surface, start, &goal, &PgdConfig::linf(radius(), *steps)),
        PoolAttack::Lbfgs { search_steps, iterations, .. } => {
            attack::lbfgs(&surface, start, &goal, &LbfgsAttackConfig::new(*search_steps, *iterations))
        }
    }
    .expect("the pool's config is checked (its attack's settings included) before its attackers start");
    let width = adv.adversarial.dims()[1];
    let values: Vec<f32> = adv.adversarial.to_data().iter::<f32>().collect();
    let mut rows = Vec::with_capacity(values.len());
    let mut entries = Vec::with_capacity(indices.len());
    for (i, &index) in indices.iter().enumerate() {
        if keeps_all || adv.success[i] {
            rows.extend_from_slice(&values[i * width..(i + 1) * width]);
            entries.push(Entry {
                label: train.labels[index],
                version,
                distortion: adv.distortion[i],
                origin: index as u32,
            });
        }
    }
    let succeeded = adv.success.iter().filter(|&&s| s).count();
    Delivery { layer, rows, entries, attempted: indices.len(), succeeded, seconds: started.elapsed().as_secs_f64() }
}

/// Running attacker threads.
pub struct Attackers {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
    pub deliveries: Receiver<Delivery>,
    pub failures: Receiver<String>,
}

impl Attackers {
    /// Starts `section.attackers` threads, which move each snapshot to `device` if one is given
    /// (else attack it where it is).
    pub fn spawn<M: PoolModel>(
        section: &PoolConfig,
        train: Arc<Images>,
        snapshots: Arc<SnapshotCell<M>>,
        seed: u64,
        device: Option<&Device>,
    ) -> Result<Attackers, super::Error> {
        let device = device.cloned();
        let stop = Arc::new(AtomicBool::new(false));
        let (send, deliveries) = bounded::<Delivery>(4 * section.attackers.max(1) * section.layers.len());
        let (fail, failures) = unbounded::<String>();
        let per_snapshot = (section.refresh * section.pool_size as f64).ceil() as usize * section.layers.len();
        let quota = per_snapshot.div_ceil(section.attackers.max(1));
        let mut attackers = Attackers { stop, handles: Vec::new(), deliveries, failures };
        for i in 0..section.attackers {
            {
                let (section, train, snapshots, stop, send, fail, device) = (
                    section.clone(),
                    train.clone(),
                    snapshots.clone(),
                    attackers.stop.clone(),
                    send.clone(),
                    fail.clone(),
                    device.clone(),
                );
                let handle = std::thread::Builder::new()
                    .name(format!("attacker-{i}"))
                    .spawn(move || {
                        // One libtorch CPU thread per attacker: the trainer keeps its own, and
                        // more threads than cores only spin against each other.
                        crate::backend::set_cpu_threads(1);
                        let run = AssertUnwindSafe(|| {
                            attack_loop(i, &section, &train, &snapshots, &stop, &send, quota, seed, &device)
                        });
                        if let Err(panic) = catch_unwind(run) {
                            let _ = fail.send(format!("attacker {i} panicked: {}", panic_message(panic)));
                        }
                    })
                    // The threads already started are stopped and joined when `attackers` drops.
                    .map_err(|e| super::Error::Attacker(format!("attacker {i} could not be started: {e}")))?;
                attackers.handles.push(handle);
            }
        }
        Ok(attackers)
    }

    /// Stops every attacker and waits for it to end.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblock senders waiting on a full channel.
        while self.deliveries.try_recv().is_ok() {}
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

impl Drop for Attackers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[allow(clippy::too_many_arguments)]
fn attack_loop<M: PoolModel>(
    i: usize,
    section: &PoolConfig,
    train: &Images,
    snapshots: &SnapshotCell<M>,
    stop: &AtomicBool,
    send: &Sender<Delivery>,
    quota: usize,
    seed: u64,
    device: &Option<Device>,
) {
    let mut rng = StdRng::seed_from_u64(seed ^ (0xA77A_C0DE + i as u64));
    // The newest snapshot, on the attacker's device.
    let mut local: Option<(u64, M, Device)> = None;
    let mut made = 0;
    let mut turn = i;
    while !stop.load(Ordering::SeqCst) {
        let Some(snapshot) = snapshots.latest() else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        if local.as_ref().is_none_or(|(version, ..)| *version != snapshot.version) {
            let model = snapshot.model.clone();
            let model = match device {
                Some(device) => model.to_device(device),
                None => model,
            };
            let on = model.devices().into_iter().next().expect("a model with pools has weights");
            local = Some((snapshot.version, model, on));
            made = 0;
        }
        let (_, model, on) = local.as_ref().expect("set above");
        if made >= quota {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let layer = section.layers[turn % section.layers.len()];
        turn += 1;
        let indices: Vec<usize> = (0..section.attack_batch).map(|_| rng.random_range(0..train.len())).collect();
        let delivery = generate(model, on, layer, train, &indices, section, snapshot.version, rng.random());
        made += section.attack_batch;
        if !send_unless_stopped(send, delivery, stop) {
            return;
        }
    }
}

/// Sends `item`, waiting while the channel is full; false when `stop` is set meanwhile or the
/// receiver is gone (the thread should end).
pub(super) fn send_unless_stopped<T>(send: &Sender<T>, mut item: T, stop: &AtomicBool) -> bool {
    loop {
        match send.send_timeout(item, Duration::from_millis(20)) {
            Ok(()) => return true,
            Err(crossbeam::channel::SendTimeoutError::Timeout(back)) => {
                if stop.load(Ordering::SeqCst) {
                    return false;
                }
                item = back;
            }
            Err(crossbeam::channel::SendTimeoutError::Disconnected(_)) => return false,
        }
    }
}

/// What a caught panic says.
pub(super) fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}
