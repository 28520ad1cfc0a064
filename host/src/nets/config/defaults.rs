//! The defaults of `[nets]` keys serde fills in, one function each.

pub(super) fn d_n_agents() -> usize {
    3
}
pub(super) fn d_1() -> usize {
    1
}
pub(super) fn d_1_u64() -> u64 {
    1
}
pub(super) fn d_3() -> usize {
    3
}
pub(super) fn d_4() -> usize {
    4
}
pub(super) fn d_16() -> usize {
    16
}
pub(super) fn d_32() -> usize {
    32
}
pub(super) fn d_64() -> usize {
    64
}
pub(super) fn d_128() -> usize {
    128
}
pub(super) fn d_1024() -> usize {
    1024
}
pub(super) fn d_tau() -> f64 {
    0.01
}
pub(super) fn d_target_interval() -> u64 {
    8
}
pub(super) fn d_lr() -> f64 {
    3e-3
}
pub(super) fn d_action_lr() -> Option<f64> {
    Some(1e-3)
}
pub(super) fn d_epsilon() -> f64 {
    0.25
}
pub(super) fn d_decay() -> u64 {
    500
}
pub(super) fn d_2000() -> usize {
    2000
}
pub(super) fn d_wd() -> f64 {
    0.0
}
pub(super) fn d_dropout() -> f64 {
    0.1
}
pub(super) fn d_t_min() -> f64 {
    0.2
}
pub(super) fn d_t_max() -> f64 {
    1.5
}
pub(super) fn d_p_min() -> f64 {
    0.2
}
pub(super) fn d_p_max() -> f64 {
    0.85
}
pub(super) fn d_top_p() -> f64 {
    0.9
}
pub(super) fn d_noise() -> f64 {
    0.5
}
pub(super) fn d_true() -> bool {
    true
}
pub(super) fn d_eps() -> f64 {
    0.08
}
pub(super) fn d_one() -> f64 {
    1.0
}
pub(super) fn d_step() -> f64 {
    0.3
}
pub(super) fn d_match() -> f64 {
    0.995
}
pub(super) fn d_osc() -> f64 {
    0.98
}
pub(super) fn d_gamma() -> f64 {
    0.99
}
pub(super) fn d_clip() -> f64 {
    10.0
}
pub(super) fn d_qmix() -> String {
    "qmix".into()
}
pub(super) fn d_separate() -> String {
    "separate".into()
}
pub(super) fn d_spread() -> String {
    "spread".into()
}
pub(super) fn d_before() -> String {
    "before".into()
}
pub(super) fn d_round() -> String {
    "round".into()
}
pub(super) fn d_split() -> String {
    "split".into()
}
pub(super) fn d_executed() -> String {
    "executed".into()
}
pub(super) fn d_mean() -> String {
    "mean".into()
}
pub(super) fn d_group() -> String {
    "group".into()
}
pub(super) fn d_previous() -> String {
    "previous".into()
}
pub(super) fn d_01() -> f64 {
    0.1
}
pub(super) fn d_005() -> f64 {
    0.05
}
pub(super) fn d_alpha() -> [f64; 3] {
    [0.4, 0.4, 0.2]
}
pub(super) fn d_eta_alpha() -> f64 {
    1e-3
}
