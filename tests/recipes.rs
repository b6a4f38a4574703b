//! Every shipped recipe is valid; bad recipes fail with the key's path and line.

use std::path::Path;

use blindspot::recipe::{self, parse};

const GOOD: &str = r#"name = "t"
[model]
arch = "fc100-100-10"
[optimizer]
kind = "sgd"
learning_rate = 0.1
[train]
epochs = 2
batch_size = 64
"#;

fn err(text: &str, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let msg = parse(text, "r.toml", &sets).unwrap_err().to_string();
    assert!(!msg.contains('\n'), "one line: {msg:?}");
    msg
}

#[test]
fn every_shipped_recipe_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let r = recipe::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(path.file_stem().unwrap().to_str().unwrap(), r.name, "file name = run name");
            names.push(r.name);
        }
    }
    for required in [
        "fc10-1e-4",
        "fc10-1e-2",
        "fc10-1",
        "fc100-100-10-weight-decay",
        "fc100-100-10-dropout",
        "fc200-200-10",
        "fc123-456-10-p1",
        "ae400-10",
        "convnet",
    ] {
        assert!(names.iter().any(|n| n == required), "recipes/{required}.toml missing");
    }
}

#[test]
fn defaults_fill_in_and_round_trip() {
    let r = parse(GOOD, "r.toml", &[]).unwrap();
    assert_eq!(r.seed, 1);
    assert_eq!(r.output.dir, Path::new("checkpoints"));
    let again = parse(&recipe::to_toml(&r), "again", &[]).unwrap();
    assert_eq!(r, again);
}

#[test]
fn unknown_and_ill_typed_keys_name_the_key_and_line() {
    let msg = err(&GOOD.replace("epochs = 2", "epochs = 2\nepoch = 3"), &[]);
    assert!(msg.starts_with("r.toml:9: train.epoch: unknown field `epoch`"), "{msg}");
    let msg = err(&GOOD.replace("epochs = 2", "epochs = \"ten\""), &[]);
    assert!(msg.starts_with("r.toml:8: train.epochs:") && msg.contains("invalid type"), "{msg}");
    let msg = err(&GOOD.replace("kind = \"sgd\"", "kind = \"lbfgs\""), &[]);
    assert!(msg.starts_with("r.toml:5: optimizer.kind:") && msg.contains("unknown variant"), "{msg}");
    let msg = err(&GOOD.replace("name = \"t\"", "name = \"t\"\ndevice = \"tpu\""), &[]);
    assert!(msg.starts_with("r.toml:2: device:") && msg.contains("tpu"), "{msg}");
    let msg = err(&GOOD.replace("[train]", "[train\n"), &[]);
    assert!(msg.starts_with("r.toml:7:"), "{msg}");
}

#[test]
fn absurd_values_name_the_key_and_line() {
    let cases = [
        ("learning_rate = 0.1", "learning_rate = -1.0", "r.toml:6: optimizer.learning_rate:"),
        ("batch_size = 64", "batch_size = 0", "r.toml:9: train.batch_size:"),
        ("batch_size = 64", "batch_size = 64\nmax_norm = 0.0", "r.toml:10: train.max_norm: 0 is not a positive norm"),
        ("arch = \"fc100-100-10\"", "arch = \"fc7\"", "r.toml:3: model.arch: unknown architecture"),
        (
            "arch = \"fc100-100-10\"",
            "arch = \"fc100-100-10\"\ndropout = [0.5]",
            "r.toml:4: model.dropout: fc100-100-10 has 3 layers",
        ),
        ("name = \"t\"", "name = \"../t\"", "r.toml:1: name:"),
        ("batch_size = 64", "batch_size = 64\n[lipschitz]\nweight = -1.0", "r.toml:11: lipschitz.weight: -1 is not"),
        (
            "batch_size = 64",
            "batch_size = 64\n[lipschitz]\nweight = 0.1\niterations = 0",
            "r.toml:12: lipschitz.iterations:",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[lipschitz]\nweight = 0.1\nlayers = [4]",
            "r.toml:12: lipschitz.layers: layer 4",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[lipschitz]\nweight = 0.1\nmode = \"max\"",
            "r.toml:12: lipschitz.mode: unknown variant",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0, 1]\nepsilon = [0.1]",
            "r.toml:12: adversarial.epsilon: 1 radii given for 2 pools",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0, 1]\nepsilon = [0.1, -0.02]",
            "r.toml:12: adversarial.epsilon: -0.02 is not a positive radius",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nepsilon = \"small\"",
            "r.toml:12: adversarial.epsilon: expected a radius (0.1) or one radius per pool",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nattackers = 100000",
            "r.toml:12: adversarial.attackers: 100000 is more than 64 threads",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nwarmup_epochs = 2",
            "r.toml:12: adversarial.warmup_epochs: 2 is not below train.epochs = 2: the pools would be filled and never used",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nsteps = 3",
            "r.toml:10: adversarial: steps does not apply to method = \"fgsm\" (its keys: epsilon)",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nmethod = \"lbfgs\"\nepsilon = 0.1",
            "r.toml:10: adversarial: epsilon does not apply to method = \"lbfgs\" (its keys: target, search_steps",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nmethod = \"pgd\"\nsteps = 0",
            "r.toml:13: adversarial.steps: must be at least 1",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nattacker_device = \"tpu\"",
            "r.toml:12: adversarial.attacker_device: unknown device \"tpu\"",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nsnapshot_every = 500\nmax_staleness = 10",
            "r.toml:13: adversarial.max_staleness: 10 is below snapshot_every = 500: between snapshots the pools would empty",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [1]\nrefine_steps = 1",
            "r.toml:12: adversarial.refine_steps: renewing works on the input pool: add layer 0 to layers",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nmethod = \"lbfgs\"\nrefine_steps = 2",
            "r.toml:13: adversarial.refine_steps: method = \"lbfgs\" has no radius to renew within: use fgsm or pgd",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0]\nrefine_step_size = 0.01",
            "r.toml:12: adversarial.refine_step_size: it needs refine_steps > 0",
        ),
        (
            "arch = \"fc100-100-10\"",
            "arch = \"ae400-10\"\n[pretrain]\nautoencoder_epochs = 0\nclassifier_epochs = 0",
            "r.toml:5: pretrain.autoencoder_epochs: 0 autoencoder and 0 classifier epochs pretrain nothing",
        ),
        (
            "arch = \"fc100-100-10\"",
            "arch = \"ae400-10\"\n[pretrain]\nautoencoder_epochs = 1\nclassifier_epochs = 1\nsparsity_target = 1.5",
            "r.toml:7: pretrain.sparsity_target: 1.5 is not in (0, 1)",
        ),
        // Radii around input images stop at the pixel box: at 1 every pixel is already free.
        (
            "batch_size = 64",
            "batch_size = 64\n[fresh]\nmethod = \"pgd\"\nepsilon = 3.0",
            "r.toml:12: fresh.epsilon: 3 is not an L∞ radius in (0, 1]",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[adversarial]\nlayers = [0, 1]\nmethod = \"pgd\"\nepsilon = [2.0, 5.0]",
            "r.toml:13: adversarial.epsilon: 2 is not an L∞ radius in (0, 1]",
        ),
        // The split's size is known before any image is read.
        (
            "batch_size = 64",
            "batch_size = 100000000000",
            "r.toml:9: train.batch_size: 100000000000 is larger than the run's 60000",
        ),
        (
            "batch_size = 64",
            "batch_size = 40000\n[data]\nsplit = \"p1\"",
            "r.toml:9: train.batch_size: 40000 is larger than the run's 30000",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[data]\nvalidation = 60000",
            "r.toml:11: data.validation: 60000 leaves none of the 60000 images of mnist's full split",
        ),
        (
            "batch_size = 64",
            "batch_size = 64\n[data]\nvalidation = 10000\nsubset = 55000",
            "r.toml:12: data.subset: 55000 is more than the 50000 images it is taken from (mnist's full split, 10000 held out",
        ),
    ];
    for (from, to, expected) in cases {
        let msg = err(&GOOD.replace(from, to), &[]);
        assert!(msg.starts_with(expected), "{msg:?} should start with {expected:?}");
    }
}

#[test]
fn set_overrides_keys_and_reports_its_own_errors() {
    let sets = ["train.epochs=7".to_string(), "model.dropout=[0.1, 0.2, 0.3]".into(), "data.split=p1".into()];
    let r = parse(GOOD, "r.toml", &sets).unwrap();
    assert_eq!(r.train.epochs, 7);
    assert_eq!(r.model.dropout, vec![0.1, 0.2, 0.3]);
    assert_eq!(r.data.split, blindspot::data::Split::P1);
    let msg = err(GOOD, &["train.epochs=ten"]);
    assert!(msg.starts_with("override train.epochs=ten:") && msg.contains("invalid type"), "{msg}");
    let msg = err(GOOD, &["train.epoch=3"]);
    assert!(msg.contains("unknown field `epoch`"), "{msg}");
    let msg = err(GOOD, &["epochs"]);
    assert!(msg.starts_with("override epochs: expected key=value"), "{msg}");
    let msg = err(GOOD, &["base=other.toml"]);
    assert!(msg.starts_with("override base=other.toml: a base is merged before overrides"), "{msg}");
}

/// Writes `files` (name, text) into a fresh folder and loads the first.
fn load_files(files: &[(&str, &str)]) -> Result<blindspot::recipe::Recipe, String> {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    recipe::load(&tmp.path().join(files[0].0), &[]).map_err(|e| {
        let msg = e.to_string().replace(&format!("{}/", tmp.path().display()), "");
        assert!(!msg.contains('\n'), "one line: {msg:?}");
        msg
    })
}

#[test]
fn a_base_recipe_is_merged_key_by_key() {
    let child = "base = \"good.toml\"\nname = \"child\"\n[model]\ndropout = [0.2, 0.0, 0.0]\n[train]\nepochs = 9\n";
    let r = load_files(&[("child.toml", child), ("good.toml", GOOD)]).unwrap();
    let base = parse(GOOD, "good.toml", &[]).unwrap();
    assert_eq!((r.name.as_str(), r.train.epochs, r.model.dropout.clone()), ("child", 9, vec![0.2, 0.0, 0.0]));
    assert_eq!(r.train.batch_size, base.train.batch_size, "keys the child does not write come from the base");
    assert_eq!((&r.model.arch, &r.optimizer), (&base.model.arch, &base.optimizer));
    // A chain: the grandchild's key wins over both.
    let grandchild = "base = \"child.toml\"\nname = \"grandchild\"\n[train]\nbatch_size = 32\n";
    let r = load_files(&[("g.toml", grandchild), ("child.toml", child), ("good.toml", GOOD)]).unwrap();
    assert_eq!((r.train.epochs, r.train.batch_size), (9, 32));
    // Inline tables and dotted keys merge too.
    let inline = "base = \"good.toml\"\nname = \"i\"\ntrain = { epochs = 4 }\noptimizer.momentum = 0.5\n";
    let r = load_files(&[("i.toml", inline), ("good.toml", GOOD)]).unwrap();
    assert_eq!((r.train.epochs, r.train.batch_size, r.optimizer.momentum), (4, 64, 0.5));
    assert_eq!(r.optimizer.learning_rate, base.optimizer.learning_rate);
    // The shipped per-layer recipe is the input-pool recipe with three pools.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let layers = recipe::load(&dir.join("fc100-100-10-adversarial-layers.toml"), &[]).unwrap();
    let input = recipe::load(&dir.join("fc100-100-10-adversarial.toml"), &[]).unwrap();
    assert_eq!((&layers.optimizer, &layers.train), (&input.optimizer, &input.train));
    let (l, i) = (layers.adversarial.unwrap(), input.adversarial.unwrap());
    assert_eq!((l.layers, i.layers, l.ratio, l.pool_size), (vec![0, 1, 2], vec![0], i.ratio, i.pool_size));
}

#[test]
fn base_errors_name_the_file_that_wrote_the_key() {
    let child = "base = \"good.toml\"\nname = \"child\"\n[train]\nepochs = 0\n";
    let msg = load_files(&[("child.toml", child), ("good.toml", GOOD)]).unwrap_err();
    assert!(msg.starts_with("child.toml:4: train.epochs: must be at least 1"), "{msg}");
    let bad_base = GOOD.replace("batch_size = 64", "batch_size = 64\nbatchsize = 3");
    let msg = load_files(&[("child.toml", child.replace("0", "3").as_str()), ("good.toml", &bad_base)]).unwrap_err();
    assert!(msg.starts_with("good.toml:10: train.batchsize: unknown field"), "{msg}");
    let msg = load_files(&[("child.toml", child), ("other.toml", GOOD)]).unwrap_err();
    assert!(msg.starts_with("child.toml:1: base: cannot read good.toml:"), "{msg}");
    let msg =
        load_files(&[("a.toml", "base = \"b.toml\"\nname = \"a\"\n"), ("b.toml", "base = \"a.toml\"\n")]).unwrap_err();
    assert!(msg.starts_with("b.toml:1: base: a.toml -> b.toml -> a.toml is a cycle"), "{msg}");
    let msg = load_files(&[("child.toml", "base = \"good.toml\"\n"), ("good.toml", GOOD)]).unwrap_err();
    assert!(msg.starts_with("child.toml: name: a recipe with a base needs a name of its own"), "{msg}");
    let msg = load_files(&[("child.toml", "base = 3\nname = \"c\"\n")]).unwrap_err();
    assert!(msg.starts_with("child.toml:1: base: expected the path of another recipe"), "{msg}");
    let msg = err("base = \"good.toml\"\nname = \"c\"\n", &[]);
    assert!(msg.starts_with("r.toml:1: base: only a recipe file can name a base"), "{msg}");
}

#[test]
fn a_pool_method_takes_only_its_own_keys_and_a_new_method_drops_the_inherited_ones() {
    use blindspot::pool::{PoolAttack, PoolTarget, Radius};
    let pgd = format!("{GOOD}[adversarial]\nlayers = [0]\nmethod = \"pgd\"\nepsilon = 0.2\nsteps = 3\n");
    let attack = |r: blindspot::Recipe| r.adversarial.unwrap().attack;
    assert_eq!(attack(parse(&pgd, "r.toml", &[]).unwrap()), PoolAttack::Pgd { epsilon: Radius::Every(0.2), steps: 3 });
    // A --set of the method drops the base method's settings; its own --set settings stay.
    let sets = ["adversarial.method=\"lbfgs\"".to_string(), "adversarial.iterations=7".into()];
    let lbfgs = PoolAttack::Lbfgs { target: PoolTarget::Random, search_steps: 6, iterations: 7 };
    assert_eq!(attack(parse(&pgd, "r.toml", &sets).unwrap()), lbfgs);
    // So does a derived recipe that names another method; what it writes beside it is checked.
    let child = "base = \"pgd.toml\"\nname = \"child\"\n[adversarial]\nmethod = \"fgsm\"\n";
    let r = load_files(&[("child.toml", child), ("pgd.toml", &pgd)]).unwrap();
    assert_eq!(attack(r), PoolAttack::Fgsm { epsilon: Radius::Every(0.2) }, "epsilon applies to both");
    let child = "base = \"pgd.toml\"\nname = \"child\"\n[adversarial]\nmethod = \"fgsm\"\nsteps = 2\n";
    let msg = load_files(&[("child.toml", child), ("pgd.toml", &pgd)]).unwrap_err();
    assert!(msg.contains("adversarial: steps does not apply to method = \"fgsm\""), "{msg}");
    // A child that keeps the method inherits its settings.
    let child = "base = \"pgd.toml\"\nname = \"child\"\n[adversarial]\nsteps = 9\n";
    let r = load_files(&[("child.toml", child), ("pgd.toml", &pgd)]).unwrap();
    assert_eq!(attack(r), PoolAttack::Pgd { epsilon: Radius::Every(0.2), steps: 9 });
    // What a run folder keeps reads back the same, with the method's keys only.
    let r = parse(&pgd, "r.toml", &sets).unwrap();
    let text = recipe::to_toml(&r);
    assert!(!text.contains("steps = 3") && !text.contains("epsilon"), "{text}");
    assert_eq!(parse(&text, "again", &[]).unwrap(), r);
}
