variable "project_id" {
  description = "ID of the Google Cloud project that owns the bucket."
  type        = string
}

variable "name" {
  description = "Globally unique name of the audio bucket (chunks/ and dialogues/)."
  type        = string
}

variable "location" {
  description = "Location of the bucket; the region of the functions keeps traffic local."
  type        = string
}

variable "chunk_retention_days" {
  description = "Days after which raw chunks (chunks/) are deleted."
  type        = number
}

variable "dialogue_retention_days" {
  description = "Days after which dialogue audio (dialogues/) is deleted."
  type        = number
}

variable "object_prefixes" {
  description = "Object prefixes of the bucket's layout from the topology file: chunks (raw chunks) and dialogues (dialogue audio)."
  type = object({
    chunks    = string
    dialogues = string
  })
}

variable "notifications" {
  description = "Bucket notifications from the topology: topic, object prefix, event types and payload format."
  type = list(object({
    topic          = string
    object_prefix  = string
    event_types    = list(string)
    payload_format = string
  }))
}

variable "topic_ids" {
  description = "Full IDs of the pipeline topics (name => projects/P/topics/name), the notification targets."
  type        = map(string)
}

variable "labels" {
  description = "Labels put on the bucket."
  type        = map(string)
  default     = {}
}
