<?php /* Plugin Name: Not Scanned (uploads are not plugins) Version: 9 */
