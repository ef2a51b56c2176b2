//! The baseline: the least an axum server can do for a verifyKey request — read the body and
//! answer a fixed JSON body of the same size as keyward's answer. Same framework (axum 0.8 over
//! hyper), same `axum::serve` setup and the same tokio runtime shape as `keyward serve`
//! (multi-thread, default worker count), so the ratio keyward/baseline isolates keyward's own work.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;

pub fn run(listen: std::net::SocketAddr, body: String) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let body = Bytes::from(body);
        let app = Router::new().route(
            "/v2/keys.verifyKey",
            post(move |_request: Bytes| {
                let body = body.clone();
                async move { ([(CONTENT_TYPE, "application/json")], body).into_response() }
            }),
        );
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("baseline listening on {}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
