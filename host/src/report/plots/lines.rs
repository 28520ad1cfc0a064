//! Line plots over learner updates or episodes: plain, or smoothed with the
//! raw values faint beneath and the first points' spikes clipped.

use anyhow::Result;
use plotters::prelude::*;

use super::{LEGEND_ROW, Mark, SMALL, colour, draw_legend, err, legend_rows, short, whole};

/// Lines over x (learner updates): one per series, with a legend.
pub fn lines(title: &str, x_desc: &str, series: &[(String, Vec<(f64, f64)>)]) -> Result<String> {
    plot_lines(title, x_desc, series, &[])
}

/// The trailing mean of the last `window` points (fewer at the start).
pub fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let window = window.max(1);
    let mut sum = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            sum += y;
            if i >= window {
                sum -= points[i - window].1;
            }
            (x, sum / (i + 1).min(window) as f64)
        })
        .collect()
}

/// Each series' moving average over `window` points, its raw values faint
/// beneath. With `clip` (losses, whose first updates spike), the y axis
/// spans only the values after the first tenth of the points, so those
/// spikes do not flatten the rest: values beyond it are pinned to its edge,
/// and the title says so. Without it (rewards, actions: an early spread is
/// exploration, and real), it spans every value.
pub fn smoothed(
    title: &str,
    x_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    window: usize,
    clip: bool,
) -> Result<String> {
    let averaged: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, s)| (name.clone(), moving_average(s, window)))
        .collect();
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for (_, s) in averaged.iter().chain(series) {
        let from = if clip { s.len() / 10 } else { 0 };
        for &(_, y) in &s[from..] {
            (lo, hi) = (lo.min(y), hi.max(y));
        }
    }
    let mut clipped = false;
    let mut clamp = |s: &[(String, Vec<(f64, f64)>)]| -> Vec<(String, Vec<(f64, f64)>)> {
        s.iter()
            .map(|(name, points)| {
                let points = points
                    .iter()
                    .map(|&(x, y)| {
                        clipped |= y < lo || y > hi;
                        (x, y.clamp(lo, hi))
                    })
                    .collect();
                (name.clone(), points)
            })
            .collect()
    };
    let (averaged, faint) = if lo <= hi {
        (clamp(&averaged), clamp(series))
    } else {
        (averaged, series.to_vec())
    };
    let title = match (window > 1, clipped) {
        (true, true) => format!("{title} (mean of {window}, clipped)"),
        (true, false) => format!("{title} (mean of {window})"),
        (false, true) => format!("{title} (clipped)"),
        (false, false) => title.to_string(),
    };
    plot_lines(&title, x_desc, &averaged, &faint)
}

/// `series` as lines with a legend strip below; `faint` (same order and
/// colours, no legend) drawn thin and pale beneath them.
fn plot_lines(
    title: &str,
    x_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    faint: &[(String, Vec<(f64, f64)>)],
) -> Result<String> {
    // A series drawn over by a later, identical one shows as a wide band
    // around it, and its legend entry says which.
    let under: Vec<Option<usize>> = (0..series.len())
        .map(|i| (i + 1..series.len()).find(|&j| same_points(&series[i].1, &series[j].1)))
        .collect();
    let labels: Vec<String> = if series.len() > 1 {
        series
            .iter()
            .zip(&under)
            .map(|(s, u)| match u {
                Some(j) => format!("{} (under {})", s.0, series[*j].0),
                None => s.0.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows = legend_rows(&labels, SMALL.0 as i32 - 20) as i32;
    let legend_height = if rows > 0 { rows * LEGEND_ROW + 8 } else { 0 };
    let mut svg = String::new();
    {
        // The legend gets its own strip below the plot.
        let size = (SMALL.0, SMALL.1 + legend_height as u32);
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, legend) = root.split_vertically(SMALL.1 as i32);
        let all = series.iter().chain(faint).flat_map(|s| s.1.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in all {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 - x0 < 1e-9 {
            x1 = x0 + 1.0;
        }
        let pad = ((y1 - y0).abs() * 0.08).max(1e-6);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 13))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .x_desc(x_desc)
            .x_label_formatter(&|x| whole(*x))
            .y_label_formatter(&|y| short(*y))
            .draw()
            .map_err(err)?;
        for (i, (_, points)) in faint.iter().enumerate() {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour(i).mix(0.3).stroke_width(1),
                ))
                .map_err(err)?;
        }
        for (i, (_, points)) in series.iter().enumerate() {
            let c = colour(i);
            let width = if under[i].is_some() { 6 } else { 2 };
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    c.stroke_width(width),
                ))
                .map_err(err)?;
            if points.len() <= 40 {
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 2, c.filled())))
                    .map_err(err)?;
            }
        }
        let entries: Vec<(String, RGBColor, Mark)> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), colour(i), Mark::Line))
            .collect();
        draw_legend(&legend, &entries)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Two series with the same points (to float noise).
fn same_points(a: &[(f64, f64)], b: &[(f64, f64)]) -> bool {
    !a.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).all(|(p, q)| {
            (p.0 - q.0).abs() <= 1e-9 * p.0.abs().max(1.0)
                && (p.1 - q.1).abs() <= 1e-9 * p.1.abs().max(1.0)
        })
}
