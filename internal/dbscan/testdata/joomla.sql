-- A Joomla-like schema (the columns the scan reads, as Joomla 4 creates
-- them). {p} is the table prefix.
CREATE TABLE `{p}content` (
  id int unsigned NOT NULL AUTO_INCREMENT,
  title varchar(255) NOT NULL DEFAULT '',
  alias varchar(400) NOT NULL DEFAULT '',
  introtext mediumtext NOT NULL,
  `fulltext` mediumtext NOT NULL,
  state tinyint NOT NULL DEFAULT 0,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{p}modules` (
  id int NOT NULL AUTO_INCREMENT,
  title varchar(100) NOT NULL DEFAULT '',
  content text,
  published tinyint NOT NULL DEFAULT 0,
  module varchar(50) DEFAULT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{p}users` (
  id int NOT NULL AUTO_INCREMENT,
  name varchar(400) NOT NULL DEFAULT '',
  username varchar(150) NOT NULL DEFAULT '',
  email varchar(100) NOT NULL DEFAULT '',
  block tinyint NOT NULL DEFAULT 0,
  registerDate datetime NULL DEFAULT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{p}user_usergroup_map` (
  user_id int unsigned NOT NULL DEFAULT 0,
  group_id int unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, group_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
