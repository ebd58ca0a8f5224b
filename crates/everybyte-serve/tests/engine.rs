//! The queue, batching, overload, validation and drain against a fake engine: a deterministic
//! pure-Rust model that doubles its input, records the batch sizes it was given, and takes as
//! long as the test says. No ONNX Runtime is needed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use everybyte_serve::engine::{Engine, EngineError, IoSpec, ModelInfo};
use everybyte_serve::error::ErrorKind;
use everybyte_serve::repo::ModelSettings;
use everybyte_serve::server::{InferRequest, Model, Server};
use everybyte_serve::tensor::{DataType, Tensor};

/// A JSON infer request of one row, `[1.5, -2]`.
const BODY: &str = r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1.5,-2]}]}"#;

/// Doubles `x` (FP32, `[-1, 2]`) into `y`; records the rows of every batch it runs.
struct Doubler {
    info: Arc<ModelInfo>,
    delay: Duration,
    batches: Arc<Mutex<Vec<usize>>>,
    /// Batches started so far, for a test to wait on.
    started: Arc<Mutex<usize>>,
    /// Runs in progress now, and the most ever at once.
    in_flight: Arc<Mutex<(usize, usize)>>,
}

impl Engine for Doubler {
    fn info(&self) -> &Arc<ModelInfo> {
        &self.info
    }

    fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, EngineError> {
        {
            let mut f = self.in_flight.lock().unwrap();
            f.0 += 1;
            f.1 = f.1.max(f.0);
        }
        let out = self.double(inputs);
        self.in_flight.lock().unwrap().0 -= 1;
        out
    }
}

impl Doubler {
    fn double(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, EngineError> {
        let x = inputs
            .first()
            .ok_or_else(|| EngineError::Other("no input".into()))?;
        let rows = usize::try_from(x.shape[0]).map_err(|e| EngineError::Other(e.to_string()))?;
        self.batches.lock().unwrap().push(rows);
        *self.started.lock().unwrap() += 1;
        std::thread::sleep(self.delay);
        let data: Vec<u8> = x
            .data
            .chunks_exact(4)
            .flat_map(|c| (f32::from_le_bytes([c[0], c[1], c[2], c[3]]) * 2.0).to_le_bytes())
            .collect();
        Ok(vec![Tensor {
            name: "y".into(),
            datatype: DataType::F32,
            shape: x.shape.clone(),
            data: Bytes::from(data),
        }])
    }
}

struct Fake {
    model: Arc<Model>,
    batches: Arc<Mutex<Vec<usize>>>,
    started: Arc<Mutex<usize>>,
    in_flight: Arc<Mutex<(usize, usize)>>,
}

fn fake(max_batch: usize, settings: ModelSettings, delay: Duration) -> Fake {
    fake_runs(max_batch, settings, delay, 1)
}

fn fake_runs(max_batch: usize, settings: ModelSettings, delay: Duration, runs: usize) -> Fake {
    let spec = |name: &str| IoSpec {
        name: name.into(),
        datatype: DataType::F32,
        shape: vec![-1, 2],
    };
    let info = ModelInfo {
        name: "double".into(),
        version: "1".into(),
        path: "double/1/model.onnx".into(),
        inputs: vec![spec("x")],
        outputs: vec![spec("y")],
        max_batch,
        batch_limit: max_batch,
        unbatchable: None,
        settings,
        warmup: everybyte_serve::engine::Warmup::Ok,
    };
    let batches = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(Mutex::new(0));
    let in_flight = Arc::new(Mutex::new((0, 0)));
    let engine = Doubler {
        info: Arc::new(info),
        delay,
        batches: Arc::clone(&batches),
        started: Arc::clone(&started),
        in_flight: Arc::clone(&in_flight),
    };
    Fake {
        model: Model::start(engine, runs).unwrap(),
        batches,
        started,
        in_flight,
    }
}

fn settings(queue: usize, max_delay: Duration, preferred: &[usize]) -> ModelSettings {
    ModelSettings {
        max_delay,
        queue,
        preferred: preferred.to_vec(),
        ..ModelSettings::default()
    }
}

/// One request of `rows` rows whose values start at `first`.
fn request(rows: usize, first: f32) -> InferRequest {
    let values: Vec<f32> = (0..rows * 2).map(|i| first + i as f32).collect();
    InferRequest {
        id: String::new(),
        inputs: vec![Tensor {
            name: "x".into(),
            datatype: DataType::F32,
            shape: vec![i64::try_from(rows).unwrap(), 2],
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }],
        outputs: Vec::new(),
    }
}

fn floats(t: &Tensor) -> Vec<f32> {
    t.data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_form_one_batch_and_each_gets_its_rows_back() {
    let f = fake(
        8,
        settings(16, Duration::from_secs(5), &[4]),
        Duration::ZERO,
    );
    let mut tasks = Vec::new();
    for k in 0..4u8 {
        let model = Arc::clone(&f.model);
        tasks.push(tokio::spawn(async move {
            model.infer(request(1, f32::from(k) * 10.0)).await
        }));
    }
    for (k, t) in tasks.into_iter().enumerate() {
        let out = t.await.unwrap().unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "y");
        assert_eq!(out[0].shape, [1, 2]);
        let base = f32::from(u8::try_from(k).unwrap()) * 10.0;
        assert_eq!(floats(&out[0]), [base * 2.0, (base + 1.0) * 2.0]);
    }
    // The preferred batch of 4 closed the batch without waiting out the 5 s delay.
    assert_eq!(*f.batches.lock().unwrap(), [4]);
    let stats = f.model.stats.lock().unwrap().clone();
    assert_eq!(stats.execution_count, 1);
    assert_eq!(stats.inference_count, 4);
    f.model.stop(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plan_of_several_runs_computes_requests_at_once_on_one_engine() {
    for runs in [1, 3] {
        let f = fake_runs(
            0,
            settings(16, Duration::ZERO, &[]),
            Duration::from_millis(150),
            runs,
        );
        let mut tasks = Vec::new();
        for i in 0..3 {
            let m = Arc::clone(&f.model);
            tasks.push(tokio::spawn(
                async move { m.infer(request(1, i as f32)).await },
            ));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let out = t.await.unwrap().unwrap();
            assert_eq!(floats(&out[0]), [2.0 * i as f32, 2.0 * i as f32 + 2.0]);
        }
        // Each run takes 150 ms and the three requests are sent together: one runner takes
        // them in turn, three take them at once.
        assert_eq!(f.in_flight.lock().unwrap().1, runs, "runs {runs}");
        f.model.stop(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_that_does_not_fit_a_batch_is_answered_while_another_runner_waits_idle() {
    // Batches of at most 2 rows: a 1-row request, then a 2-row one that does not fit with it.
    // The runner that formed the first batch holds the second; the other runner waits on the
    // empty queue. The held request must still be answered.
    let f = fake_runs(
        2,
        settings(16, Duration::from_millis(200), &[]),
        Duration::from_millis(20),
        2,
    );
    let m = Arc::clone(&f.model);
    let first = tokio::spawn(async move { m.infer(request(1, 0.0)).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let m = Arc::clone(&f.model);
    let second = tokio::spawn(async move { m.infer(request(2, 10.0)).await });
    let done = tokio::time::timeout(Duration::from_secs(10), async {
        (first.await.unwrap(), second.await.unwrap())
    })
    .await
    .expect("both requests are answered without a third arriving");
    assert_eq!(floats(&done.0.unwrap()[0]), [0.0, 2.0]);
    assert_eq!(floats(&done.1.unwrap()[0]), [20.0, 22.0, 24.0, 26.0]);
    f.model.stop(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_takes_rows_up_to_the_max_batch() {
    // Three requests of 3 rows with a max batch of 8: two fit together, the third waits.
    let f = fake(8, settings(16, Duration::from_secs(1), &[]), Duration::ZERO);
    let mut tasks = Vec::new();
    for k in 0..3u8 {
        let model = Arc::clone(&f.model);
        tasks.push(tokio::spawn(async move {
            model.infer(request(3, f32::from(k))).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap()[0].shape, [3, 2]);
    }
    assert_eq!(*f.batches.lock().unwrap(), [6, 3]);
    f.model.stop(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_model_without_proven_batching_runs_each_request_alone() {
    let f = fake(
        0,
        settings(16, Duration::from_millis(200), &[]),
        Duration::ZERO,
    );
    let mut tasks = Vec::new();
    for k in 0..3u8 {
        let model = Arc::clone(&f.model);
        tasks.push(tokio::spawn(async move {
            model.infer(request(2, f32::from(k))).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(*f.batches.lock().unwrap(), [2, 2, 2]);
    f.model.stop(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_queue_answers_unavailable_at_once() {
    let f = fake(
        0,
        settings(1, Duration::ZERO, &[]),
        Duration::from_millis(400),
    );
    let running = {
        let model = Arc::clone(&f.model);
        tokio::spawn(async move { model.infer(request(1, 0.0)).await })
    };
    wait_until("the first request runs", || *f.started.lock().unwrap() == 1).await;
    let queued = {
        let model = Arc::clone(&f.model);
        tokio::spawn(async move { model.infer(request(1, 1.0)).await })
    };
    wait_until("the second request is queued", || {
        f.model.queue_depth() == 1
    })
    .await;
    let t = Instant::now();
    let e = f.model.infer(request(1, 2.0)).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert_eq!(
        e.message,
        "model double is overloaded: its queue of 1 requests is full; retry later"
    );
    running.await.unwrap().unwrap();
    queued.await.unwrap().unwrap();
    assert_eq!(*f.batches.lock().unwrap(), [1, 1]);
    let server = server_of(&f);
    let metrics = server.metrics();
    assert!(
        metrics.contains("everybyte_requests_total{model=\"double\",outcome=\"overloaded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("everybyte_requests_total{model=\"double\",outcome=\"success\"} 2"),
        "{metrics}"
    );
    server.stop(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_requests_are_refused_before_compute() {
    let f = fake(4, settings(16, Duration::ZERO, &[]), Duration::ZERO);
    let mut wrong_type = request(1, 0.0);
    wrong_type.inputs[0].datatype = DataType::I32;
    let mut too_many_rows = request(5, 0.0);
    too_many_rows.inputs[0].shape = vec![5, 2];
    let mut wrong_shape = request(1, 0.0);
    wrong_shape.inputs[0].shape = vec![1, 3];
    let mut unknown_output = request(1, 0.0);
    unknown_output.outputs = vec!["z".into()];
    let missing = InferRequest::default();
    let cases = [
        (
            wrong_type,
            "input x: datatype INT32, but the model expects FP32",
        ),
        (
            too_many_rows,
            "input x: batch size 5 in shape [5, 2]; model double takes 1 to 4 rows (max_batch_size)",
        ),
        (
            wrong_shape,
            "input x: shape [1, 3] does not fit the model's [-1, 2] (-1: any size)",
        ),
        (
            unknown_output,
            "model double has no output \"z\"; its outputs are: y",
        ),
        (missing, "input x is missing; model double needs: x"),
    ];
    for (req, want) in cases {
        let e = f.model.infer(req).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid, "{want}");
        assert_eq!(e.message, want);
    }
    assert!(f.batches.lock().unwrap().is_empty());
    assert_eq!(f.model.stats.lock().unwrap().outcomes["invalid"], 5);
    f.model.stop(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopping_a_model_finishes_what_it_holds_and_refuses_new_requests() {
    let f = fake(
        0,
        settings(8, Duration::ZERO, &[]),
        Duration::from_millis(150),
    );
    let mut tasks = Vec::new();
    for k in 0..3u8 {
        let model = Arc::clone(&f.model);
        tasks.push(tokio::spawn(async move {
            model.infer(request(1, f32::from(k))).await
        }));
    }
    wait_until("all three are in", || {
        *f.started.lock().unwrap() == 1 && f.model.queue_depth() == 2
    })
    .await;
    let model = Arc::clone(&f.model);
    tokio::task::spawn_blocking(move || model.stop(true))
        .await
        .unwrap();
    // The worker was joined: every request it held has its answer.
    assert_eq!(*f.batches.lock().unwrap(), [1, 1, 1]);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let e = f.model.infer(request(1, 0.0)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert_eq!(e.message, "the server is shutting down");
}

fn server_of(f: &Fake) -> Server {
    Server {
        models: BTreeMap::from([("double".to_owned(), Arc::clone(&f.model))]),
        ready: AtomicBool::new(false),
        request_limit: 1 << 20,
        runtime_version: "test".into(),
    }
}

async fn http_infer(
    addr: std::net::SocketAddr,
    body: &'static str,
) -> Result<(u16, String), String> {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let req = hyper::Request::post(format!("http://{addr}/v2/models/double/infer"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shutdown_drains_requests_in_flight_and_refuses_new_ones() {
    let f = fake(
        0,
        settings(8, Duration::ZERO, &[]),
        Duration::from_millis(500),
    );
    let server = Arc::new(server_of(&f));
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = http.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(everybyte_serve::serve::run(
        Arc::clone(&server),
        http,
        grpc,
        Duration::from_secs(10),
        async move {
            let _ = stopped.await;
            "test"
        },
    ));
    wait_until("the server is ready", || {
        server.ready.load(Ordering::Relaxed)
    })
    .await;
    let in_flight = tokio::spawn(http_infer(addr, BODY));
    wait_until("the request runs", || *f.started.lock().unwrap() == 1).await;
    stop.send(()).unwrap();
    wait_until("the server is no longer ready", || {
        !server.ready.load(Ordering::Relaxed)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A new request is refused: the listener is closed (or the server answers 503).
    match http_infer(addr, BODY).await {
        Err(_) => {}
        Ok((status, text)) => assert_eq!(status, 503, "{text}"),
    }
    // The request in flight finishes with its answer.
    let (status, text) = in_flight.await.unwrap().unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("[3.0,-4.0]"), "{text}");
    assert!(serving.await.unwrap().unwrap(), "the drain ran out of time");
    server.stop(true);
    assert_eq!(*f.batches.lock().unwrap(), [1]);
}
