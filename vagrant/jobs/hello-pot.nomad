# The Vagrant VM's example: a pot job written as potluck's published jobs are.
job "hello-pot" {
  datacenters = ["dc1"]

  group "hello" {
    network {
      port "http" {}
    }

    volume "www" {
      type      = "host"
      source    = "www"
      read_only = true
    }

    task "hello.v1" {
      driver       = "pot"
      kill_timeout = "5s"

      config {
        image    = "file:///var/cache/pot-images"
        pot      = "hello-pot"
        tag      = "1.0"
        command  = "/bin/sh"
        args     = ["-c", "'echo hello from a pot: $(hostname); while true; do date; sleep 10; done'"]
        port_map = { http = "8080" }
      }

      volume_mount {
        volume      = "www"
        destination = "/srv/www"
      }

      env {
        GREETING = "literal $HOME stays literal"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
