//! Digit Kiosk collects handwritten digits (0–9) for machine-learning datasets.
//!
//! ```text
//!  window (egui) ─┐                          ┌─ images/*.png
//!                 ├─ strokes ─► Collector ─► Store ─ digits.db  (source of truth)
//!  browser (HTTP) ┘   (label,   ::submit     (one    └─ labels.csv (mirror)
//!                     session)   raster.rs    writer)
//! ```
//!
//! Both front ends are thin: they build a [`collector::Submission`] from
//! checked parts ([`digit::Digit`], [`sketch::Sketch`] or pixels from
//! [`picture`]) and call [`collector::Collector::submit`]. The collector
//! rasterises ([`raster`]) and hands the PNG to the store's one writer thread,
//! which makes whole batches durable ([`store`]). [`check`] verifies that the
//! three parts of a data folder agree.

pub mod check;
pub mod cli;
pub mod collector;
pub mod commands;
pub mod config;
pub mod digit;
pub mod error;
pub mod export;
pub mod merge;
pub mod picture;
pub mod raster;
pub mod sketch;
pub mod store;
pub mod ui;
pub mod web;

pub use error::{Error, Result};
