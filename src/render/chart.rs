//! The chart of a summary: received and failed amounts per day, as a PNG
//! drawn in-process with plotters and the DejaVu Sans font compiled into
//! the binary (no system font, no network).

use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::summary::Group;
use crate::event::money::Money;

/// Width of the chart, pixels.
pub const WIDTH: u32 = 900;
/// Height of the chart, pixels.
pub const HEIGHT: u32 = 420;

/// The font family name the chart draws with.
const FONT: &str = "sans-serif";

/// Received money: Stripe's green.
const RECEIVED: RGBColor = RGBColor(0x1a, 0x7f, 0x37);
/// Failed money: red.
const FAILED: RGBColor = RGBColor(0xcf, 0x22, 0x2e);

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are DejaVu Sans, valid by construction; a failure would
        // only drop the labels, never the chart.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// The chart of one group's days as PNG bytes, [`WIDTH`] × [`HEIGHT`].
pub fn png(title: &str, group: &Group) -> Result<Vec<u8>, ChartError> {
    register_font();
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(title, group, &mut pixels)?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ChartError(e.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| ChartError(e.to_string()))?;
    writer.finish().map_err(|e| ChartError(e.to_string()))?;
    Ok(out)
}

fn draw(title: &str, group: &Group, pixels: &mut [u8]) -> Result<(), ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError(e.to_string());
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let currency = &group.currency;
    // Major units on the axis: 1,250.00 rather than 125000.
    let scale = Money::new(1, currency).map_or(1.0, |m| m.major());
    let major = |minor: i64| minor as f64 * scale;
    let top = group
        .days
        .iter()
        .map(|d| major(d.received.max(d.failed)))
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.15;
    let days = group.days.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 22).into_font().style(FontStyle::Bold))
        .margin(16)
        // Room for the last day's label.
        .margin_right(40)
        .x_label_area_size(36)
        .y_label_area_size(80)
        // The first day at the left edge, the last at the right.
        .build_cartesian_2d(0..(days - 1).max(1), 0.0..top)
        .map_err(|e| err(&e))?;
    let labels: Vec<String> = group
        .days
        .iter()
        .map(|d| d.date.format("%b %-d").to_string())
        .collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
        .y_labels(6)
        .x_labels(days.min(10))
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_desc(currency.to_uppercase())
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(|e| err(&e))?;
    for (series, color, label) in [(0usize, RECEIVED, "Received"), (1usize, FAILED, "Failed")] {
        let points: Vec<(usize, f64)> = group
            .days
            .iter()
            .enumerate()
            .map(|(i, d)| (i, major(if series == 0 { d.received } else { d.failed })))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(|e| err(&e))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
            });
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
            )
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 14))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::render::summary::Day;

    #[test]
    fn draws_a_png_of_the_expected_size() {
        let group = Group {
            currency: "eur".to_owned(),
            days: (0..7)
                .map(|i| Day {
                    date: NaiveDate::from_ymd_opt(2026, 11, 23 + i).unwrap(),
                    received: 100_000 + i64::from(i) * 12_345,
                    failed: 5_000 * i64::from(i % 3),
                })
                .collect(),
            ..Group::default()
        };
        let bytes = png("Weekly summary · EUR", &group).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        // Not a blank image: both series' colours are drawn.
        let mut reader = reader;
        let mut pixels = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut pixels).unwrap();
        let has = |c: RGBColor| pixels.chunks(3).any(|p| p == [c.0, c.1, c.2]);
        assert!(has(RECEIVED) && has(FAILED));
    }
}
