use super::*;
use proptest::prelude::*;
pub(crate) fn enabled_codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(vec![Compression::None])
}
