//! Slot models: config, encoders, grouping (Slot Attention and variants),
//! predictor, decoders and the bundle format. Uses tch only.
//!
//! Weight names mirror PyTorch module paths (`encoder.convs.0.weight`,
//! `grouping.gru.weight_ih`, `predictor.self_attn.in_proj_weight`, ...), so
//! a PyTorch `state_dict` of the reference modules in
//! `bindings/python/slotrt/torch_ref` maps onto them one to one.

pub mod bundle;
pub mod config;
pub mod cost;
pub mod decoder;
pub mod dias;
pub mod encoder;
pub mod grouping;
pub mod layers;
pub mod layout;
pub mod limits;
pub mod precision;
pub mod refine;
pub mod slot_model;

pub use config::ModelConfig;
pub use layout::Layout;
pub use precision::Precision;
pub use slot_model::{SlotModel, StepOutput};
