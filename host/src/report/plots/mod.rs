//! The report's plots: plotters' SVG backend drawing into a string, inlined
//! in report.html. No bitmap backend and no font files: text is measured by
//! plotters' built-in estimate and rendered by the browser.

mod lines;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

pub use lines::{lines, moving_average, smoothed};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 380;
// Three to a row in the report's 1100 px column.
const SMALL: (u32, u32) = (340, 240);

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing a plot: {e}")
}

/// How a legend entry marks its series.
#[derive(Clone, Copy)]
enum Mark {
    Line,
    Dot,
}

/// Rough width of a legend entry in pixels (plotters' own text estimate is
/// not exposed): the mark, a gap, about 7 px per character.
fn entry_width(label: &str) -> i32 {
    26 + 7 * label.chars().count() as i32 + 14
}

/// Rows of legend entries that fit in `width`.
fn legend_rows(labels: &[String], width: i32) -> usize {
    let mut rows = usize::from(!labels.is_empty());
    let mut x = 0;
    for l in labels {
        let w = entry_width(l);
        if x > 0 && x + w > width {
            rows += 1;
            x = 0;
        }
        x += w;
    }
    rows
}

const LEGEND_ROW: i32 = 18;

/// The legend below a plot, in its own strip of the picture: it never covers
/// a mark of the data.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(String, RGBColor, Mark)],
) -> Result<()> {
    let width = area.dim_in_pixel().0 as i32;
    let (mut x, mut y) = (10, 4);
    for (label, c, mark) in entries {
        let w = entry_width(label);
        if x > 10 && x + w > width {
            x = 10;
            y += LEGEND_ROW;
        }
        let mid = y + LEGEND_ROW / 2 - 2;
        match mark {
            Mark::Line => area
                .draw(&PathElement::new(
                    vec![(x, mid), (x + 18, mid)],
                    c.stroke_width(2),
                ))
                .map_err(err)?,
            Mark::Dot => area
                .draw(&Circle::new((x + 9, mid), 5, c.filled()))
                .map_err(err)?,
        }
        area.draw(&Text::new(
            label.clone(),
            (x + 24, mid - 6),
            ("sans-serif", 12).into_font(),
        ))
        .map_err(err)?;
        x += w;
    }
    Ok(())
}

/// The colour of a test mode, by its name (the part of a label after the
/// last '/', "seed-2/bne" -> bne): one colour per mode in every plot and
/// every run compared. Names that are not a mode come after the modes.
pub fn mode_colour(label: &str) -> RGBColor {
    let mode = label.rsplit('/').next().unwrap_or(label);
    let modes = crate::episode::Mode::ALL;
    let i = modes
        .iter()
        .position(|m| m.as_str() == mode)
        .unwrap_or_else(|| {
            modes.len()
                + mode
                    .bytes()
                    .fold(0usize, |h, b| h.wrapping_mul(31) + b as usize)
                    % 20
        });
    colour(i)
}

pub fn colour(i: usize) -> RGBColor {
    // Colour-blind-safe (Okabe–Ito) first, then plotters' palette.
    const OKABE_ITO: [(u8, u8, u8); 7] = [
        (0, 114, 178),
        (230, 159, 0),
        (0, 158, 115),
        (204, 121, 167),
        (86, 180, 233),
        (213, 94, 0),
        (240, 228, 66),
    ];
    match OKABE_ITO.get(i) {
        Some(&(r, g, b)) => RGBColor(r, g, b),
        None => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

/// Accuracy per mode: a bar per mode with its 95% Wilson interval.
/// `points`: (label, accuracy, low, high). Labels too long for the space
/// under their bars become numbers, named in a legend strip below.
pub fn accuracy(points: &[(String, f64, f64, f64)]) -> Result<String> {
    let n = points.len().max(1);
    // About 7 px a character, the bar's share of the plot's width.
    let room = (WIDTH as i32 - 90) / n as i32;
    let fit = points
        .iter()
        .all(|p| 7 * p.0.chars().count() as i32 + 6 <= room);
    let shown: Vec<String> = if fit {
        points.iter().map(|p| p.0.clone()).collect()
    } else {
        (1..=points.len()).map(|i| i.to_string()).collect()
    };
    let entries: Vec<(String, RGBColor, Mark)> = if fit {
        Vec::new()
    } else {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("{}: {}", i + 1, p.0), mode_colour(&p.0), Mark::Dot))
            .collect()
    };
    let labels: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
    let rows = legend_rows(&labels, WIDTH as i32 - 20) as i32;
    let legend_height = if rows > 0 { rows * LEGEND_ROW + 8 } else { 0 };
    let mut svg = String::new();
    {
        let size = (WIDTH, HEIGHT + legend_height as u32);
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, legend) = root.split_vertically(HEIGHT as i32);
        let mut chart = ChartBuilder::on(&plot)
            .caption(
                "Accuracy per mode (95% Wilson interval)",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..1f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| category(&shown, *x))
            .y_desc("accuracy")
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(points.iter().enumerate().map(|(i, p)| {
                let x = i as f64;
                Rectangle::new(
                    [(x - 0.3, 0.0), (x + 0.3, p.1)],
                    mode_colour(&p.0).mix(0.75).filled(),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(points.iter().enumerate().map(|(i, p)| {
                ErrorBar::new_vertical(i as f64, p.2, p.1, p.3, BLACK.stroke_width(2), 12)
            }))
            .map_err(err)?;
        draw_legend(&legend, &entries)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Accuracy against tokens per episode, one point per mode, with the Pareto
/// frontier (no other mode is both cheaper and at least as accurate).
/// `points`: (label, tokens per episode, accuracy); `intervals`: each
/// point's 95% interval of accuracy (none when empty).
pub fn pareto(points: &[(String, f64, f64)], intervals: &[(f64, f64)]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut entries = vec![(
            "Pareto frontier".to_string(),
            BLACK.mix(0.5).to_rgba(),
            Mark::Line,
        )];
        entries.extend(
            points
                .iter()
                .map(|p| (p.0.clone(), mode_colour(&p.0).to_rgba(), Mark::Dot)),
        );
        let entries: Vec<(String, RGBColor, Mark)> = entries
            .into_iter()
            .map(|(l, c, m)| (l, RGBColor(c.0, c.1, c.2), m))
            .collect();
        let labels: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
        let rows = legend_rows(&labels, WIDTH as i32 - 20) as i32;
        let (plot, legend) = root.split_vertically(HEIGHT as i32 - rows * LEGEND_ROW - 8);
        // (the plot gives up the legend's rows: a long legend shortens it)
        let max_tokens = points.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(&plot)
            .caption("Accuracy vs tokens per episode", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..max_tokens, 0f64..1.05f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .x_desc("tokens per episode (prompt + completion)")
            .y_desc("accuracy")
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()
            .map_err(err)?;
        let frontier = pareto_frontier(points);
        chart
            .draw_series(LineSeries::new(
                frontier.iter().map(|&i| (points[i].1, points[i].2)),
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(err)?;
        for (p, &(low, high)) in points.iter().zip(intervals) {
            chart
                .draw_series(std::iter::once(ErrorBar::new_vertical(
                    p.1,
                    low,
                    p.2,
                    high,
                    mode_colour(&p.0).mix(0.6).stroke_width(1),
                    8,
                )))
                .map_err(err)?;
        }
        // Hollow rings on top of filled dots: two modes at one point stay visible.
        for (i, p) in points.iter().enumerate() {
            let c = mode_colour(&p.0);
            let radius = 6 + 3 * points[..i]
                .iter()
                .filter(|q| (q.1 - p.1).abs() < max_tokens * 0.01 && (q.2 - p.2).abs() < 0.01)
                .count() as i32;
            let style = if radius > 6 {
                c.stroke_width(2)
            } else {
                c.filled()
            };
            chart
                .draw_series(std::iter::once(Circle::new((p.1, p.2), radius, style)))
                .map_err(err)?;
        }
        draw_legend(&legend, &entries)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Indices of the points on the Pareto frontier, by tokens ascending: each
/// strictly more accurate than every cheaper one.
pub fn pareto_frontier(points: &[(String, f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a]
            .1
            .total_cmp(&points[b].1)
            .then(points[b].2.total_cmp(&points[a].2))
    });
    let mut best = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for i in order {
        if points[i].2 > best {
            best = points[i].2;
            out.push(i);
        }
    }
    out
}

/// A histogram of counts per category (BNE rounds used).
pub fn bars(title: &str, x_desc: &str, bars: &[(String, u64)]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SMALL).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = bars.len().max(1);
        let top = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64 * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(40)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top)
            .map_err(err)?;
        let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .max_light_lines(0)
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| category(&labels, *x))
            .x_desc(x_desc)
            .y_desc("episodes")
            .y_label_formatter(&|y| whole(*y))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let x = i as f64;
                Rectangle::new(
                    [(x - 0.35, 0.0), (x + 0.35, b.1 as f64)],
                    colour(0).filled(),
                )
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The label of the category at x = 0, 1, ...; none between them.
fn category(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Whole numbers only (episodes, updates): other ticks stay unlabelled.
fn whole(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

/// A compact axis number: 0.0123, 1.23e4.
fn short(y: f64) -> String {
    let a = y.abs();
    if a < 1e-12 {
        // A tick at float noise around zero.
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{y:.1e}")
    } else {
        format!("{y:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_keeps_only_undominated_modes() {
        let p = |n: &str, t: f64, a: f64| (n.to_string(), t, a);
        let points = vec![
            p("cot", 100.0, 0.5),
            p("sc", 500.0, 0.7),
            p("debate", 1500.0, 0.65),
            p("bne", 900.0, 0.8),
            p("cheap-bad", 100.0, 0.2),
        ];
        assert_eq!(pareto_frontier(&points), vec![0, 1, 3]);
    }

    #[test]
    fn a_moving_average_trails_over_its_window() {
        let p: Vec<(f64, f64)> = [1.0, 3.0, 5.0, 7.0]
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64, y))
            .collect();
        let m: Vec<f64> = moving_average(&p, 2).into_iter().map(|q| q.1).collect();
        assert_eq!(m, [1.0, 2.0, 4.0, 6.0]);
        assert_eq!(moving_average(&p, 1), p);
    }

    #[test]
    fn long_mode_names_move_from_under_the_bars_to_a_legend() {
        let short =
            accuracy(&[("cot".into(), 0.5, 0.3, 0.7), ("bne".into(), 0.6, 0.4, 0.8)]).unwrap();
        assert!(!short.contains("1: cot"), "{short}");
        let names: Vec<(String, f64, f64, f64)> = (0..8)
            .map(|i| (format!("simrun{i}/debate-with-a-long-name"), 0.5, 0.4, 0.6))
            .collect();
        let long = accuracy(&names).unwrap();
        assert!(
            long.contains("1: simrun0/debate-with-a-long-name"),
            "{long}"
        );
        assert!(long.contains("8: simrun7/debate-with-a-long-name"));
    }

    #[test]
    fn a_mode_has_one_colour_in_every_run() {
        assert_eq!(mode_colour("seed-1/bne"), mode_colour("bne"));
        assert_eq!(mode_colour("seed-2/bne"), mode_colour("seed-1/bne"));
        assert_ne!(mode_colour("bne"), mode_colour("baseline"));
        let svg = pareto(
            &[("a/cot".into(), 100.0, 0.5), ("b/cot".into(), 200.0, 0.6)],
            &[(0.4, 0.6), (0.5, 0.7)],
        )
        .unwrap();
        // Both runs' cot points, bars and legend marks in cot's colour (#CC79A7),
        // and no other mode's.
        let cot = svg.matches("#CC79A7").count();
        assert!(cot >= 6, "{cot} marks in cot's colour: {svg}");
        assert!(
            !svg.contains("#0072B2"),
            "baseline's colour in a plot without baseline"
        );
    }

    #[test]
    fn a_series_hidden_under_an_identical_one_is_named() {
        let flat: Vec<(f64, f64)> = (1..=5).map(|i| (i as f64, 0.4)).collect();
        let low: Vec<(f64, f64)> = (1..=5).map(|i| (i as f64, 0.2)).collect();
        let svg = lines(
            "alpha",
            "update",
            &[
                ("alpha_al".into(), flat.clone()),
                ("alpha_cc".into(), low),
                ("alpha_ts".into(), flat),
            ],
        )
        .unwrap();
        assert!(svg.contains("alpha_al (under alpha_ts)"), "{svg}");
        assert!(!svg.contains("alpha_cc (under"));
    }

    #[test]
    fn early_spikes_are_clipped_and_said() {
        let mut loss: Vec<(f64, f64)> =
            (1..=50).map(|i| (i as f64, 1.0 / i as f64 + 0.5)).collect();
        loss[0].1 = 100.0;
        let svg = smoothed(
            "loss_td",
            "update",
            &[("loss_td".into(), loss.clone())],
            5,
            true,
        )
        .unwrap();
        assert!(svg.contains("mean of 5, clipped"), "{svg}");
        let flat: Vec<(f64, f64)> = (1..=50).map(|i| (i as f64, 1.0)).collect();
        let svg = smoothed("x", "update", &[("x".into(), flat)], 1, true).unwrap();
        assert!(!svg.contains("clipped"));
        // Unclipped, the early spike stays in range.
        let svg = smoothed("reward", "episode", &[("r".into(), loss)], 5, false).unwrap();
        assert!(!svg.contains("clipped"));
    }

    #[test]
    fn plots_are_svg_without_fonts() {
        let svg = accuracy(&[("a".into(), 0.5, 0.3, 0.7), ("b".into(), 1.0, 0.7, 1.0)]).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("Accuracy per mode"));
        let svg = lines(
            "loss",
            "update",
            &[("l".into(), vec![(1.0, 2.0), (2.0, 1.0)])],
        )
        .unwrap();
        assert!(svg.contains("<polyline") || svg.contains("<path"), "{svg}");
        assert!(
            bars("rounds", "rounds", &[("1".into(), 3)])
                .unwrap()
                .contains("<rect")
        );
        // A legend never covers data: every legend label lies below every
        // point of every line.
        let series: Vec<(String, Vec<(f64, f64)>)> = (0..5)
            .map(|k| {
                let name = format!("series number {k}");
                (
                    name,
                    (0..50)
                        .map(|i| (i as f64, ((i * (k + 1)) % 17) as f64))
                        .collect(),
                )
            })
            .collect();
        let svg = lines("many", "update", &series).unwrap();
        let lowest_mark = marks_y(&svg).into_iter().fold(f64::MIN, f64::max);
        for (name, _) in &series {
            let y = text_y(&svg, name).unwrap_or_else(|| panic!("no legend entry {name}"));
            assert!(
                y > lowest_mark,
                "legend {name} at y {y} above a mark at {lowest_mark}"
            );
        }
        let points: Vec<(String, f64, f64)> = (0..7)
            .map(|i| {
                (
                    format!("run-{i}/baseline"),
                    100.0 * i as f64,
                    0.1 * i as f64,
                )
            })
            .collect();
        let svg = pareto(&points, &[]).unwrap();
        let lowest_mark = circles_y(&svg).into_iter().fold(f64::MIN, f64::max);
        for (name, ..) in &points {
            let y = text_y(&svg, name).unwrap();
            assert!(
                y > lowest_mark,
                "legend {name} at y {y} above a point at {lowest_mark}"
            );
        }
        // Degenerate inputs still draw.
        assert!(lines("empty", "update", &[]).unwrap().starts_with("<svg"));
        assert!(pareto(&[], &[]).unwrap().starts_with("<svg"));
    }

    /// The y of every vertex of every data line (legend marks are 2-point lines).
    fn marks_y(svg: &str) -> Vec<f64> {
        svg.split("<polyline")
            .skip(1)
            .filter_map(|p| p.split("points=\"").nth(1)?.split('"').next())
            .map(|pts| {
                pts.split_whitespace()
                    .filter_map(|xy| xy.split(',').nth(1)?.parse::<f64>().ok())
                    .collect::<Vec<_>>()
            })
            .filter(|ys| ys.len() > 2)
            .flatten()
            .collect()
    }

    /// The y of every data point (legend dots have radius 5, data points 6+).
    fn circles_y(svg: &str) -> Vec<f64> {
        svg.split("<circle")
            .skip(1)
            .filter(|c| !c.contains("r=\"5\""))
            .filter_map(|c| c.split("cy=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect()
    }

    /// The y of the text element whose content is `label`.
    fn text_y(svg: &str, label: &str) -> Option<f64> {
        svg.split("<text").skip(1).find_map(|t| {
            let content = t.split('>').nth(1)?.split('<').next()?.trim();
            (content == label).then(|| t.split("y=\"").nth(1)?.split('"').next()?.parse().ok())?
        })
    }
}
