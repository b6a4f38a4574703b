use blindspot::Error;
use blindspot::model::{LayerSpec, zoo};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show this architecture's layers (default: list all architectures).
    arch: Option<String>,
}

pub fn run(args: Args) -> Result<(), Error> {
    let Some(name) = args.arch else {
        for (name, about) in zoo::ARCHITECTURES {
            println!("{name:<14} {about}");
        }
        return Ok(());
    };
    let spec = zoo::spec(&name, [1, 28, 28], 10)
        .ok_or_else(|| Error::Usage(format!("unknown architecture {name:?}: `blindspot models` lists them")))?;
    println!("{name}: input {:?}", spec.input);
    for (k, layer) in spec.layers.iter().enumerate() {
        let what = match layer {
            LayerSpec::Dense { inputs, outputs, .. } => format!("dense {inputs} -> {outputs}"),
            LayerSpec::Conv { input, channels, kernel, stride, padding, pool, .. } => format!(
                "conv {input:?} -> {channels} channels, {kernel}x{kernel} stride {stride} padding {padding}{}",
                pool.map_or(String::new(), |[k, s]| format!(", max-pool {k} stride {s}"))
            ),
        };
        println!("  layer {}: {what}, {:?} -> {:?}", k + 1, layer.nonlinearity(), layer.output_shape());
    }
    Ok(())
}
