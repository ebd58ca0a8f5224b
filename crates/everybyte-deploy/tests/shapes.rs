//! The shapes real manifests come in: operators' custom resources, configs inside strings,
//! placeholders left by templates, and broken input that must be a clear error.

use everybyte_core::Finding;
use everybyte_deploy::{Expectations, lint_manifest};
use everybyte_test_support::render;

fn lint(text: &str) -> Vec<Finding> {
    let exp = Expectations {
        headroom: 1.2,
        ..Expectations::default()
    };
    let mut f = lint_manifest("m.yaml", text, &exp).unwrap();
    // K8S002 is a preview rule: off unless selected.
    f.retain(|f| f.code != "K8S002");
    f
}

fn codes(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.code.as_str()).collect()
}

/// A training Job of one container, pinned and with a memory limit: the items of its `args`,
/// `env`, `volumeMounts` and `volumes` flow sequences.
fn train_job(args: &str, env: &str, mounts: &str, volumes: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata: {{name: train}}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - name: train
        image: example/train:1.0@sha256:{digest}
        args: [{args}]
        env: [{env}]
        resources: {{limits: {{memory: 8Gi}}, requests: {{memory: 8Gi}}}}
        volumeMounts: [{mounts}]
      volumes: [{volumes}]
",
        digest = "b".repeat(64)
    )
}

/// The K8S015 (checkpoint-ephemeral) messages.
fn ephemeral(f: &[Finding]) -> Vec<String> {
    f.iter()
        .filter(|f| f.code == "K8S015")
        .map(|f| f.message.clone())
        .collect()
}

#[test]
fn a_ray_serve_config_fetches_and_downloads_at_every_worker_start() {
    let f = lint(
        "apiVersion: ray.io/v1
kind: RayService
metadata: {name: llm}
spec:
  serveConfigV2: |
    applications:
    - name: llm
      runtime_env:
        working_dir: https://github.com/org/repo/archive/main.zip
        pip: [vllm==0.6.3]
        env_vars:
          MODEL_ID: meta-llama/Meta-Llama-3-8B-Instruct
  rayClusterConfig:
    headGroupSpec:
      template: {spec: {containers: [{name: head, image: rayproject/ray:2.9.0}]}}
    workerGroupSpecs:
    - groupName: gpu
      replicas: 1
      template:
        spec:
          containers:
          - name: worker
            image: rayproject/ray-ml:2.9.0-gpu
            resources: {limits: {nvidia.com/gpu: 1, memory: 40Gi}}
",
    );
    let c = codes(&f);
    for code in ["K8S019", "K8S020", "K8S021", "K8S022"] {
        assert!(c.contains(&code), "{code}: {}", render(&f));
    }
    // The lines point into the string, where the URL and the model are.
    let fetch: Vec<_> = f.iter().filter(|f| f.code == "K8S022").collect();
    assert_eq!(
        fetch.iter().map(|f| f.location.line).collect::<Vec<_>>(),
        vec![Some(9), Some(10)],
        "{}",
        render(&f)
    );
    let model = f.iter().find(|f| f.code == "K8S020").unwrap();
    assert_eq!(model.location.line, Some(12));
    // KubeRay mounts /dev/shm and probes Ray pods itself.
    assert!(
        !c.contains(&"K8S008") && !c.contains(&"K8S004") && !c.contains(&"K8S012"),
        "{}",
        render(&f)
    );
}

#[test]
fn placeholders_kubernetes_takes_literally() {
    let f = lint(
        "apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: <account>.dkr.ecr.<region>.amazonaws.com/train:1.0
    command: [python, train.py, --lr, '${LR}']
    env:
    - {name: HF_TOKEN, value: $HF_TOKEN}
    - {name: LD_LIBRARY_PATH, value: '/usr/local/nvidia/lib64:$(LD_LIBRARY_PATH)'}
  - name: b
    image: busybox:1.36
    command: [sh, -c, 'echo ${HOME}']
",
    );
    let p: Vec<_> = f.iter().filter(|f| f.code == "K8S028").collect();
    assert_eq!(p.len(), 1, "{}", render(&f));
    for want in ["<account>", "${LR}", "$HF_TOKEN"] {
        assert!(p[0].message.contains(want), "{want}: {}", p[0].message);
    }
    // `$(VAR)` is Kubernetes' own, and `${HOME}` belongs to the shell.
    assert!(
        !p[0].message.contains("LD_LIBRARY_PATH") && !p[0].message.contains("HOME"),
        "{}",
        p[0].message
    );
}

#[test]
fn torchrun_without_nnodes_in_many_pods_trains_alone_in_each() {
    let jobset = "apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata: {name: t}
spec:
  failurePolicy: {maxRestarts: 3}
  replicatedJobs:
  - name: workers
    replicas: 1
    template:
      spec:
        parallelism: 4
        completions: 4
        template:
          spec:
            containers:
            - name: t
              image: train:1.0
              command: [torchrun, --nproc_per_node=1, train.py]
";
    let f = lint(jobset);
    assert!(
        f.iter()
            .any(|f| f.code == "K8S016" && f.message.contains("without --nnodes in 4 pods")),
        "{}",
        render(&f)
    );
    let f = lint(&jobset.replace("[torchrun,", "[torchrun, --nnodes=4,"));
    assert!(!codes(&f).contains(&"K8S016"), "{}", render(&f));
}

#[test]
fn operator_layouts_old_and_new() {
    // Volcano's tasks, an MPIJob of v1alpha1 (one template), a StatefulSet's claim templates.
    let f = lint(
        "apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata: {name: v}
spec:
  tasks:
  - name: worker
    replicas: 2
    template:
      spec:
        containers:
        - {name: w, image: w:1.0, command: [sleep, infinity], resources: {limits: {nvidia.com/gpu: 1}}}
",
    );
    assert!(
        codes(&f).contains(&"K8S017") && codes(&f).contains(&"K8S001"),
        "{}",
        render(&f)
    );
    let f = lint(
        "apiVersion: kubeflow.org/v1alpha1
kind: MPIJob
metadata: {name: m}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - {name: m, image: 'm:latest', resources: {limits: {nvidia.com/gpu: 4}}}
",
    );
    let c = codes(&f);
    assert!(
        c.contains(&"K8S029") && c.contains(&"K8S005") && c.contains(&"K8S008"),
        "{}",
        render(&f)
    );
    let f = lint(
        "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s}
spec:
  template:
    spec:
      containers:
      - name: s
        image: vllm/vllm-openai:v0.6.4
        args: [--model, org/model-7b, --revision, abc123, --download-dir, /models]
        volumeMounts: [{name: models, mountPath: /models}]
        readinessProbe: {httpGet: {path: /health, port: 8000}}
        livenessProbe: {httpGet: {path: /health, port: 8000}, initialDelaySeconds: 900}
        resources: {limits: {nvidia.com/gpu: 1, memory: 32Gi}}
  volumeClaimTemplates:
  - metadata: {name: models}
    spec: {resources: {requests: {storage: 100Gi}}}
",
    );
    assert!(f.is_empty(), "{}", render(&f));
}

#[test]
fn broken_shapes_are_errors_that_say_where() {
    let err = |t: &str| {
        lint_manifest("m.yaml", t, &Expectations::default())
            .unwrap_err()
            .to_string()
    };
    assert!(err("- a\n- b\n").contains("line 1: document 1 is not a mapping"));
    assert!(
        err("apiVersion: apps/v1\nkind: Deployment\nspec: 5\n")
            .contains("line 3: Deployment: spec must be a mapping")
    );
    assert!(
        err("kind: Job\nspec:\n  template:\n    spec:\n      containers: nope\n")
            .contains("line 5: Job: containers must be a list of mappings")
    );
}

#[test]
fn a_server_fed_by_an_init_container_download_is_a_server() {
    let manifest = |url: &str, probes: &str| {
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{name: sd}}
spec:
  template:
    spec:
      initContainers:
      - name: fetch
        image: curlimages/curl:8.10.1@sha256:{digest}
        command: [sh, -c, \"wget -nc {url} -O /models/model.ckpt\"]
        volumeMounts: [{{name: store, mountPath: /models}}]
      containers:
      - name: web
        image: example/sd-webui:1.4.0@sha256:{digest}
        ports: [{{containerPort: 7860}}]
        resources: {{limits: {{memory: 16Gi}}, requests: {{memory: 16Gi}}}}
{probes}        volumeMounts: [{{name: store, mountPath: /models}}]
      volumes:
      - name: store
        persistentVolumeClaim: {{claimName: models}}
",
            digest = "a".repeat(64)
        )
    };
    let probes = "        readinessProbe: {httpGet: {path: /, port: 7860}}\n        livenessProbe: {httpGet: {path: /, port: 7860}}\n";
    let f = lint(&manifest(
        "https://huggingface.co/CompVis/stable-diffusion-v-1-4-original/resolve/main/sd-v1-4.ckpt",
        "",
    ));
    let c = codes(&f);
    // The web container loads what the init container downloads: it serves, and has no probes.
    assert!(
        c.contains(&"K8S012") && c.contains(&"K8S004"),
        "{}",
        render(&f)
    );
    // The download itself is at the hub's branch head.
    let moving = f.iter().find(|f| f.code == "K8S020").expect("K8S020");
    assert!(moving.message.contains("`main`"), "{}", moving.message);
    // Pinned to a commit, with probes: nothing.
    let f = lint(&manifest(
        "https://huggingface.co/CompVis/stable-diffusion-v-1-4-original/resolve/f15bc7606314c6fa957b4267bee417ee866c0b84/sd-v1-4.ckpt",
        probes,
    ));
    assert!(f.is_empty(), "{}", render(&f));
}

#[test]
fn relative_and_resume_checkpoint_paths_on_the_container_filesystem() {
    let job = |args: &str, extra_mount: &str| {
        train_job(
            &format!("torchrun, --nproc_per_node=1, train.py, {args}"),
            "",
            &format!("{{name: shm, mountPath: /dev/shm}}{extra_mount}"),
            "{name: shm, emptyDir: {medium: Memory, sizeLimit: 8Gi}}, {name: work, persistentVolumeClaim: {claimName: work}}",
        )
    };
    let f = lint(&job("--output_dir, .", ""));
    assert_eq!(ephemeral(&f).len(), 1, "{}", render(&f));
    assert!(ephemeral(&f)[0].contains("image's working directory"));
    let f = lint(&job("--resume, /workspace/checkpoint.pth.tar", ""));
    assert!(ephemeral(&f)[0].contains("resumes from"), "{}", render(&f));
    // A lasting volume where images usually work may hold the relative path: not told.
    let f = lint(&job(
        "--output_dir, .",
        ", {name: work, mountPath: /workspace}",
    ));
    assert!(ephemeral(&f).is_empty(), "{}", render(&f));
    // Resuming from a lasting volume, or a keyword instead of a path: nothing.
    let f = lint(&job(
        "--resume, /workspace/checkpoint.pth.tar",
        ", {name: work, mountPath: /workspace}",
    ));
    assert!(ephemeral(&f).is_empty(), "{}", render(&f));
    let f = lint(&job("--resume_from_checkpoint, latest", ""));
    assert!(ephemeral(&f).is_empty(), "{}", render(&f));
}

#[test]
fn hub_ids_resume_lookalikes_and_config_volumes_are_not_checkpoints_or_weights() {
    // `--checkpoint org/name` names a hub model, and `--resume-download` is not a resume path;
    // the `--output_dir` on a claim is what counts.
    let f = lint(&train_job(
        "train.py, --checkpoint, openai/whisper-small, --resume-download, ./x, --output_dir, /ckpt",
        "",
        "{name: ckpt, mountPath: /ckpt}",
        "{name: ckpt, persistentVolumeClaim: {claimName: ckpt}}",
    ));
    assert!(!codes(&f).contains(&"K8S015"), "{}", render(&f));
    // A sidecar that shares only the init container's CA bundle loads no weights.
    let f = lint(&format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  template:
    spec:
      initContainers:
      - name: fetch
        image: curlimages/curl:8.10.1@sha256:{digest}
        command: [sh, -c, \"wget https://example.com/m.safetensors -O /models/m.safetensors\"]
        volumeMounts: [{{name: models, mountPath: /models}}, {{name: ca, mountPath: /etc/ssl/custom}}]
      containers:
      - name: proxy
        image: example/oauth2-proxy:7.6.0@sha256:{digest}
        ports: [{{containerPort: 4180}}]
        volumeMounts: [{{name: ca, mountPath: /etc/ssl/custom}}]
      volumes:
      - {{name: models, emptyDir: {{}}}}
      - {{name: ca, configMap: {{name: ca-bundle}}}}
",
        digest = "d".repeat(64)
    ));
    let c = codes(&f);
    assert!(
        !c.contains(&"K8S004") && !c.contains(&"K8S012"),
        "{}",
        render(&f)
    );
}

#[test]
fn output_flags_relative_paths_and_branch_revisions() {
    let job = |args: &str, mounts: &str, volumes: &str| train_job(args, "", mounts, volumes);
    let ephemeral = |f: &[Finding]| ephemeral(f).len();
    // The output directory is on a claim: the TensorBoard directory beside it is not the
    // checkpoint.
    let f = lint(&job(
        "train.py, --output_dir, /ckpt, --logdir, /tmp/tb",
        "{name: ckpt, mountPath: /ckpt}",
        "{name: ckpt, persistentVolumeClaim: {claimName: ckpt}}",
    ));
    assert_eq!(ephemeral(&f), 0, "{}", render(&f));
    // An output directory is a path even without `./`.
    let f = lint(&job("train.py, --output_dir, outputs/llama-ft", "", ""));
    assert_eq!(ephemeral(&f), 1, "{}", render(&f));
    // A branch is not a revision.
    let server = |revision: &str| {
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{name: llm}}
spec:
  template:
    spec:
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.6.4@sha256:{digest}
        args: [--model, meta-llama/Llama-3.1-8B-Instruct, --revision, {revision}]
",
            digest = "f".repeat(64)
        )
    };
    assert!(codes(&lint(&server("main"))).contains(&"K8S020"));
    assert!(!codes(&lint(&server("0e9e39f249a16976918f6564b8830bc894c89659"))).contains(&"K8S020"));
}

#[test]
fn third_review_cases() {
    let job = |args: &str, env: &str| {
        train_job(
            args,
            env,
            "{name: ckpt, mountPath: /ckpt}",
            "{name: ckpt, persistentVolumeClaim: {claimName: ckpt}}",
        )
    };
    let ephemeral = |f: &[Finding]| ephemeral(f).len();
    // A model directory named like a hub id is an input.
    let f = lint(&job("train.py, --model_dir, bert-base-uncased", ""));
    assert_eq!(ephemeral(&f), 0, "{}", render(&f));
    // The output goes where its variable says (a claim): the log directory is not it.
    let f = lint(&job(
        "train.py, --output_dir, $(OUTPUT_DIR), --logdir, /tmp/tb",
        "{name: OUTPUT_DIR, value: /ckpt/run1}",
    ));
    assert_eq!(ephemeral(&f), 0, "{}", render(&f));
}
