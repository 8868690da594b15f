# One agent, server and client, with the pot task driver (installed by
# vagrant/install-nomadjail.sh as /usr/local/etc/nomadjail/agent.hcl).
name       = "nomadjail-pot"
datacenter = "dc1"
data_dir   = "/var/db/nomadjail"
bind_addr  = "0.0.0.0"

server {
  enabled          = true
  bootstrap_expect = 1
}

client {
  enabled = true
  host_volume "www" {
    path      = "/usr/local/www"
    read_only = true
  }
}

plugin "pot" {
  config {
    pot_bin        = "/usr/local/bin/pot"
    stats_interval = "5s"
  }
}
