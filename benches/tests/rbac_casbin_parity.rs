//! iamkit's check index and casbin-rs (`rbac_with_domains`, the same users,
//! roles, groups and grants) give identical decisions on 1,000 random
//! queries at 1k and 10k users.

#[path = "../benches/rbac/shape.rs"]
mod shape;

#[tokio::test(flavor = "current_thread")]
async fn casbin_and_iamkit_agree_at_1k_and_10k_users() {
    for n in [1_000, 10_000] {
        let shape = shape::shape(n, 42);
        let index = shape::build_index(&shape);
        let catalogue = index.catalogue().clone();
        let enforcer = shape::casbin_enforcer(&shape, &catalogue).await;
        let queries = shape::queries(&shape, &catalogue, 1_000, 9);
        let mut allowed = 0;
        for q in &queries {
            let ours = index.check(q.0, q.1, q.2);
            let theirs =
                casbin::CoreApi::enforce(&enforcer, shape::casbin_request(&catalogue, *q)).unwrap();
            assert_eq!(ours, theirs, "users={n} query={q:?}");
            allowed += usize::from(ours);
        }
        // Both outcomes occur, so agreement is not trivial.
        assert!(
            allowed > 50 && allowed < 950,
            "users={n}: {allowed} allowed"
        );
    }
}
