//! Compile-fail and compile-pass tests of the DSL's rules (see `tests/README.md`).

#[test]
#[cfg_attr(miri, ignore)]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/syntax/*.rs");
    t.compile_fail("ui/branching/*.rs");
    t.compile_fail("ui/modulus/*.rs");
    t.compile_fail("ui/scale/*.rs");
    t.compile_fail("ui/party/*.rs");
    t.pass("ui/pass/*.rs");
}
