# The job `make run` submits: a raw_exec service that says hello every few seconds.
# Try: nomadjail job status example; nomadjail alloc logs <alloc-id>
job "example" {
  datacenters = ["*"]
  type        = "service"

  group "greeter" {
    count = 1

    network {
      port "http" {}
    }

    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args = ["-c", <<-EOT
          while true; do
            echo "hello from $NOMAD_ALLOC_NAME (port $NOMAD_PORT_http) at $(date -u +%H:%M:%S)"
            sleep 5
          done
        EOT
        ]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
