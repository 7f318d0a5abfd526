//! Models built here with the generated types (so no Python): what the importer makes of
//! them, and 100,000 mutated copies of their bytes, none of which may panic.

#![allow(
    clippy::cast_possible_truncation,
    reason = "random positions and bytes, drawn below their bounds"
)]

use prost::Message;

use super::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto, tensor_proto, tensor_shape_proto,
    type_proto,
};
use super::*;
use crate::nn::spec::{LayerSpec, ValueShape};
use crate::prg::Prg;

fn tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.to_owned()),
        dims: dims.to_vec(),
        data_type: Some(tensor_proto::DataType::Float as i32),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..TensorProto::default()
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(attribute_proto::AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..AttributeProto::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: Some(output.to_owned()),
        op_type: Some(op.to_owned()),
        input: inputs.iter().map(|s| (*s).to_owned()).collect(),
        output: vec![output.to_owned()],
        attribute,
        ..NodeProto::default()
    }
}

fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    use tensor_shape_proto::{Dimension, dimension::Value};
    let dim = dims
        .iter()
        .map(|&d| Dimension {
            value: Some(Value::DimValue(d)),
            ..Dimension::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(tensor_proto::DataType::Float as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

/// A small CNN: Conv (2 channels, 3×3, padding 1) on 1×4×4, Relu, MaxPool 2×2, Flatten,
/// Gemm (transB) to 3 classes; weights 0.1, 0.2, ... so that each is told apart.
fn cnn() -> ModelProto {
    let count = |n: usize, scale: f32| (0..n).map(|i| (i as f32 + 1.0) * scale).collect();
    let conv: Vec<f32> = count(18, 0.1);
    let fc: Vec<f32> = count(24, 0.01);
    let graph = GraphProto {
        name: Some("cnn".to_owned()),
        node: vec![
            node(
                "Conv",
                &["x", "k", "kb"],
                "c",
                vec![ints("pads", &[1, 1, 1, 1])],
            ),
            node("Relu", &["c"], "r", vec![]),
            node(
                "MaxPool",
                &["r"],
                "p",
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
            ),
            node("Flatten", &["p"], "f", vec![]),
            node(
                "Gemm",
                &["f", "w", "b"],
                "out",
                vec![{
                    let mut t = ints("transB", &[]);
                    t.r#type = Some(attribute_proto::AttributeType::Int as i32);
                    t.i = Some(1);
                    t
                }],
            ),
        ],
        initializer: vec![
            tensor("k", &[2, 1, 3, 3], &conv),
            tensor("kb", &[2], &[0.5, -0.5]),
            tensor("w", &[3, 8], &fc),
            tensor("b", &[3], &[1.0, 2.0, 3.0]),
        ],
        input: vec![value_info("x", &[1, 1, 4, 4])],
        output: vec![value_info("out", &[1, 3])],
        ..GraphProto::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(graph),
        ..ModelProto::default()
    }
}

/// An integer attribute.
fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(attribute_proto::AttributeType::Int as i32),
        i: Some(value),
        ..AttributeProto::default()
    }
}

/// An int64 initializer.
fn int64s(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.to_owned()),
        dims: dims.to_vec(),
        data_type: Some(tensor_proto::DataType::Int64 as i32),
        int64_data: values.to_vec(),
        ..TensorProto::default()
    }
}

/// What Keras and PyTorch exporters leave around the layers: NHWC input (4×6×2, batch
/// open) transposed into NCHW, Conv (3 channels, padding 1), padded MaxPool 3×3 with
/// stride 2 (to 2×3), back to NHWC, `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze,
/// Concat, Reshape), the rows transposed into columns, and a Gemm with `transA = 1` whose
/// B is a Transpose of an initializer.
fn exported() -> ModelProto {
    let count = |n: usize, scale: f32| (0..n).map(|i| (i as f32 + 1.0) * scale).collect();
    let conv: Vec<f32> = count(54, 0.01);
    let fc: Vec<f32> = count(36, 0.01);
    let graph = GraphProto {
        name: Some("exported".to_owned()),
        node: vec![
            node(
                "Transpose",
                &["x"],
                "nchw",
                vec![ints("perm", &[0, 3, 1, 2])],
            ),
            node(
                "Conv",
                &["nchw", "k"],
                "c",
                vec![ints("pads", &[1, 1, 1, 1])],
            ),
            node(
                "MaxPool",
                &["c"],
                "p",
                vec![
                    ints("kernel_shape", &[3, 3]),
                    ints("strides", &[2, 2]),
                    ints("pads", &[1, 1, 1, 1]),
                ],
            ),
            node(
                "Transpose",
                &["p"],
                "nhwc",
                vec![ints("perm", &[0, 2, 3, 1])],
            ),
            node("Shape", &["nhwc"], "shape", vec![]),
            node("Gather", &["shape", "zero"], "batch", vec![int("axis", 0)]),
            node("Unsqueeze", &["batch", "axes"], "batch1", vec![]),
            node(
                "Concat",
                &["batch1", "rest"],
                "target",
                vec![int("axis", 0)],
            ),
            node("Reshape", &["nhwc", "target"], "rows", vec![]),
            node(
                "Transpose",
                &["rows"],
                "columns",
                vec![ints("perm", &[1, 0])],
            ),
            node("Transpose", &["w_t"], "w", vec![]),
            node(
                "Gemm",
                &["columns", "w"],
                "out",
                vec![int("transA", 1), int("transB", 1)],
            ),
        ],
        initializer: vec![
            tensor("k", &[3, 2, 3, 3], &conv),
            tensor("w_t", &[18, 2], &fc),
            int64s("zero", &[], &[0]),
            int64s("axes", &[1], &[0]),
            int64s("rest", &[1], &[-1]),
        ],
        input: vec![value_info("x", &[1, 4, 6, 2])],
        output: vec![value_info("out", &[1, 2])],
        ..GraphProto::default()
    };
    let mut model = cnn();
    model.graph = Some(graph);
    model
}

#[test]
fn exporters_shape_computations_and_transposes_become_no_layer() {
    let imported = import_bytes(
        &exported().encode_to_vec(),
        "exported.onnx",
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(
        imported.spec.input(),
        ValueShape::Image {
            height: 4,
            width: 6,
            channels: 2
        },
        "the NHWC input, read as such"
    );
    assert_eq!(
        imported.spec.layers(),
        [
            LayerSpec::Conv2d {
                in_channels: 2,
                out_channels: 3,
                kernel: 3,
                stride: 1,
                padding: 1
            },
            LayerSpec::MaxPool2d {
                kernel: 3,
                stride: 2,
                padding: 1,
            },
            LayerSpec::Flatten,
            LayerSpec::Linear {
                inputs: 18,
                outputs: 2
            },
        ]
    );
    // B = Transpose(w_t) is 2×18 and transB reads it back as w_t (18×2). The Flatten saw
    // NHWC maps of 2×3×3, securenn's own order: securenn's `inputs × outputs` is w_t
    // itself, rows unpermuted (an NCHW reading would move 16 of the 18).
    let linear = imported.weights[3].as_ref().unwrap();
    let expected: Vec<f64> = (1..=36).map(|i| f64::from(i as f32 * 0.01)).collect();
    assert_eq!(linear.weights, expected);
    // With the rows left as rows, transA = 1 would mix the examples.
    let mut model = exported();
    let graph = model.graph.as_mut().unwrap();
    graph.node.remove(9);
    graph.node[10].input[0] = "rows".to_owned();
    let error = import_bytes(&model.encode_to_vec(), "m.onnx", &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("(Gemm): A holds one row per example, so with transA = 1"),
        "{error}"
    );
}

#[test]
fn a_cnn_becomes_securenn_layers_in_securenn_layouts() {
    let bytes = cnn().encode_to_vec();
    let imported = import_bytes(&bytes, "cnn.onnx", &ImportOptions::default()).unwrap();
    assert_eq!(
        imported.spec.layers(),
        [
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 2,
                kernel: 3,
                stride: 1,
                padding: 1
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2d {
                kernel: 2,
                stride: 2,
                padding: 0,
            },
            LayerSpec::Flatten,
            LayerSpec::Linear {
                inputs: 8,
                outputs: 3
            },
        ]
    );
    assert_eq!(
        imported.spec.input(),
        ValueShape::Image {
            height: 4,
            width: 4,
            channels: 1
        }
    );
    let conv = imported.weights[0].as_ref().unwrap();
    // Row (ky, kx, c), column o: kernel[o][c][ky][kx] = 0.1·(o·9 + ky·3 + kx + 1).
    let expect_conv: Vec<f64> = (0..9)
        .flat_map(|p| (0..2).map(move |o| f64::from(((o * 9 + p + 1) as f32) * 0.1)))
        .collect();
    assert_eq!(conv.weights, expect_conv);
    assert_eq!(conv.biases, [0.5, -0.5]);
    let linear = imported.weights[4].as_ref().unwrap();
    // securenn's row k = pixel·2 + channel is ONNX's column channel·4 + pixel of B (3×8).
    for k in 0..8 {
        let onnx = (k % 2) * 4 + k / 2;
        for m in 0..3 {
            let b = f64::from(((m * 8 + onnx + 1) as f32) * 0.01);
            assert_eq!(linear.weights[k * 3 + m], b, "row {k}, column {m}");
        }
    }
    assert_eq!(linear.biases, [1.0, 2.0, 3.0]);
}

#[test]
fn a_broken_model_names_the_node() {
    let mut model = cnn();
    let graph = model.graph.as_mut().unwrap();
    graph.node[1].op_type = Some("Tanh".to_owned());
    let error = import_bytes(&model.encode_to_vec(), "m.onnx", &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("m.onnx: node 2 `r` (Tanh): the operator is not supported"),
        "{error}"
    );

    let mut model = cnn();
    model.graph.as_mut().unwrap().node[3].input[0] = "c".to_owned();
    let error = import_bytes(&model.encode_to_vec(), "m.onnx", &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("node 4 `f` (Flatten): takes `c`, not `p`"),
        "{error}"
    );

    let error = import_bytes(b"not a model", "m.onnx", &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("m.onnx: not an ONNX model"), "{error}");
}

/// 100,000 copies of each model's bytes, each with a few random bytes changed, inserted,
/// removed or the file cut short: the importer gives a model or an error, never a panic.
#[test]
fn a_hundred_thousand_mutated_models_never_panic() {
    mutate(&cnn().encode_to_vec(), 7);
    mutate(&exported().encode_to_vec(), 8);
}

fn mutate(original: &[u8], seed: u8) {
    let mut prg = Prg::from_stream_key([seed; 16]);
    let mut draw = |n: usize| {
        let mut bytes = [0u8; 8];
        prg.fill(&mut bytes);
        (u64::from_le_bytes(bytes) % n as u64) as usize
    };
    let (mut imported, mut refused) = (0, 0);
    for _ in 0..100_000 {
        let mut bytes = original.to_vec();
        for _ in 0..1 + draw(4) {
            let at = draw(bytes.len().max(1));
            match draw(5) {
                0 => bytes.truncate(at),
                1 => bytes.insert(at.min(bytes.len()), draw(256) as u8),
                2 if !bytes.is_empty() => {
                    bytes.remove(at.min(bytes.len() - 1));
                }
                _ if !bytes.is_empty() => {
                    let at = at.min(bytes.len() - 1);
                    bytes[at] = draw(256) as u8;
                }
                _ => {}
            }
        }
        match import_bytes(&bytes, "mutated.onnx", &ImportOptions::default()) {
            Ok(_) => imported += 1,
            Err(Error::Import { .. } | Error::Network { .. } | Error::InvalidShape { .. }) => {
                refused += 1;
            }
            Err(other) => panic!("an unexpected kind of error: {other}"),
        }
    }
    assert_eq!(imported + refused, 100_000);
    assert!(
        refused > 50_000,
        "most mutations break the model: {refused}"
    );
}
