//! The type system refuses wrong references: a role where a function is expected, and a
//! `GetAtt` of an attribute the resource type doesn't have.

#[test]
fn wrong_references_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/role_where_function_expected.rs");
    cases.compile_fail("tests/ui/get_att_missing_attribute.rs");
}
