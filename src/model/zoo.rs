//! The paper's models by name.

use super::layer::{LayerSpec, Nonlinearity};
use super::stack::ModelSpec;

/// Every architecture `spec` knows, with a one-line description.
pub const ARCHITECTURES: &[(&str, &str)] = &[
    ("fc10", "softmax regression on the pixels (the paper's FC10(λ))"),
    ("fc100-100-10", "two sigmoid hidden layers of 100, softmax"),
    ("fc200-200-10", "two sigmoid hidden layers of 200, softmax"),
    ("fc123-456-10", "sigmoid hidden layers of 123 and 456, softmax (the P1/P2 experiment)"),
    ("ae400-10", "sparse-autoencoder layer of 400 sigmoid units, softmax (pretrain with [pretrain])"),
    ("convnet", "small MNIST convnet: conv5x5(16)/ReLU/pool2, conv5x5(32)/ReLU/pool2, dense 100/ReLU, softmax"),
    (
        "smallcnn",
        "TRADES' MNIST SmallCNN: conv3x3(32), conv3x3(32)/pool2, conv3x3(64), conv3x3(64)/pool2 (ReLU), dense 200, 200 (ReLU), softmax",
    ),
    (
        "gloro-2c2f",
        "GloRo's 2C2F with MinMax: conv4x4(16) stride 2, conv4x4(32) stride 2, dense 100, softmax (L2 certificates)",
    ),
    (
        "gloro-4c3f",
        "GloRo's 4C3F with MinMax: conv3x3(32), conv4x4(32)/2, conv3x3(64), conv4x4(64)/2, dense 512, 512, softmax",
    ),
    (
        "ibp-small",
        "Gowal et al.'s small IBP model: conv4x4(16) stride 2, conv4x4(32) (ReLU), dense 100 (ReLU), softmax",
    ),
    ("alexnet", "AlexNet-shaped stack on 3x224x224 (for Lipschitz tables; not trained here)"),
];

/// The names of every architecture, comma-separated (for error messages).
pub fn names() -> String {
    ARCHITECTURES.iter().map(|a| a.0).collect::<Vec<_>>().join(", ")
}

fn dense(inputs: usize, outputs: usize, nonlinearity: Nonlinearity) -> LayerSpec {
    LayerSpec::Dense { inputs, outputs, nonlinearity, dropout: 0.0 }
}

/// One convolution of a chain (ReLU after it): output channels, square kernel, stride, zero padding,
/// and max-pooling `[kernel, stride]` if any.
#[derive(Clone, Copy)]
struct ConvStage {
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    pool: Option<[usize; 2]>,
}

const fn stage(channels: usize, kernel: usize, stride: usize, padding: usize, pool: Option<[usize; 2]>) -> ConvStage {
    ConvStage { channels, kernel, stride, padding, pool }
}

/// A multilayer perceptron on `input` pixels with sigmoid hidden layers and a softmax output.
fn mlp(inputs: usize, hidden: &[usize], classes: usize) -> Vec<LayerSpec> {
    let mut widths = vec![inputs];
    widths.extend(hidden);
    let mut layers: Vec<LayerSpec> = widths.windows(2).map(|w| dense(w[0], w[1], Nonlinearity::Sigmoid)).collect();
    layers.push(dense(*widths.last().unwrap(), classes, Nonlinearity::Identity));
    layers
}

/// Chains convolutional layers with ReLU: each one's input shape is the previous one's output shape.
fn conv_chain(input: [usize; 3], stages: &[ConvStage]) -> Vec<LayerSpec> {
    conv_chain_with(input, stages, Nonlinearity::Relu)
}

/// Chains convolutional layers, each followed by `nonlinearity`.
fn conv_chain_with(input: [usize; 3], stages: &[ConvStage], nonlinearity: Nonlinearity) -> Vec<LayerSpec> {
    let mut shape = input;
    stages
        .iter()
        .map(|&ConvStage { channels, kernel, stride, padding, pool }| {
            let layer =
                LayerSpec::Conv { input: shape, channels, kernel, stride, padding, nonlinearity, pool, dropout: 0.0 };
            shape = layer.output_shape();
            layer
        })
        .collect()
}

/// The architecture `name` for images of `input` shape and `classes` classes, or `None`.
pub fn spec(name: &str, input: [usize; 3], classes: usize) -> Option<ModelSpec> {
    let pixels = input.iter().product();
    let layers = match name {
        "fc10" => mlp(pixels, &[], classes),
        "fc100-100-10" => mlp(pixels, &[100, 100], classes),
        "fc200-200-10" => mlp(pixels, &[200, 200], classes),
        "fc123-456-10" => mlp(pixels, &[123, 456], classes),
        "ae400-10" => mlp(pixels, &[400], classes),
        "convnet" => {
            let mut layers = conv_chain(input, &[stage(16, 5, 1, 2, Some([2, 2])), stage(32, 5, 1, 2, Some([2, 2]))]);
            let flat = layers.last().unwrap().outputs();
            layers.push(dense(flat, 100, Nonlinearity::Relu));
            layers.push(dense(100, classes, Nonlinearity::Identity));
            layers
        }
        "smallcnn" => {
            let stages = [
                stage(32, 3, 1, 0, None),
                stage(32, 3, 1, 0, Some([2, 2])),
                stage(64, 3, 1, 0, None),
                stage(64, 3, 1, 0, Some([2, 2])),
            ];
            let mut layers = conv_chain(input, &stages);
            let flat = layers.last().unwrap().outputs();
            layers.push(dense(flat, 200, Nonlinearity::Relu));
            layers.push(dense(200, 200, Nonlinearity::Relu));
            layers.push(dense(200, classes, Nonlinearity::Identity));
            layers
        }
        "gloro-2c2f" => {
            let mut layers =
                conv_chain_with(input, &[stage(16, 4, 2, 1, None), stage(32, 4, 2, 1, None)], Nonlinearity::MinMax);
            let flat = layers.last().unwrap().outputs();
            layers.push(dense(flat, 100, Nonlinearity::MinMax));
            layers.push(dense(100, classes, Nonlinearity::Identity));
            layers
        }
        "gloro-4c3f" => {
            let stages = [
                stage(32, 3, 1, 1, None),
                stage(32, 4, 2, 1, None),
                stage(64, 3, 1, 1, None),
                stage(64, 4, 2, 1, None),
            ];
            let mut layers = conv_chain_with(input, &stages, Nonlinearity::MinMax);
            let flat = layers.last().unwrap().outputs();
            layers.push(dense(flat, 512, Nonlinearity::MinMax));
            layers.push(dense(512, 512, Nonlinearity::MinMax));
            layers.push(dense(512, classes, Nonlinearity::Identity));
            layers
        }
        "ibp-small" => {
            let mut layers = conv_chain(input, &[stage(16, 4, 2, 0, None), stage(32, 4, 1, 0, None)]);
            let flat = layers.last().unwrap().outputs();
            layers.push(dense(flat, 100, Nonlinearity::Relu));
            layers.push(dense(100, classes, Nonlinearity::Identity));
            layers
        }
        "alexnet" => {
            let input = [3, 224, 224];
            let mut layers = conv_chain(
                input,
                &[
                    stage(96, 11, 4, 2, Some([3, 2])),
                    stage(256, 5, 1, 2, Some([3, 2])),
                    stage(384, 3, 1, 1, None),
                    stage(384, 3, 1, 1, None),
                    stage(256, 3, 1, 1, Some([3, 2])),
                ],
            );
            let flat = layers.last().unwrap().outputs();
            layers.push(dense(flat, 4096, Nonlinearity::Relu));
            layers.push(dense(4096, 4096, Nonlinearity::Relu));
            layers.push(dense(4096, 1000, Nonlinearity::Identity));
            return Some(ModelSpec { arch: name.into(), input, layers });
        }
        _ => return None,
    };
    Some(ModelSpec { arch: name.into(), input, layers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_chain() {
        for (name, _) in ARCHITECTURES {
            let spec = spec(name, [1, 28, 28], 10).unwrap();
            assert_eq!(spec.layers[0].inputs(), spec.inputs(), "{name}");
            for pair in spec.layers.windows(2) {
                assert_eq!(pair[0].outputs(), pair[1].inputs(), "{name}");
            }
        }
        let alex = spec("alexnet", [1, 28, 28], 10).unwrap();
        assert_eq!(alex.layers[5].inputs(), 9216);
        assert_eq!(alex.classes(), 1000);
        assert!(spec("fc7", [1, 28, 28], 10).is_none());
    }
}
